import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { loadConfig } from '../config/config.ts';
import { backgroundQueue } from './background-queue.ts';
import { createMetrics } from './metrics.ts';

describe('backgroundQueue', () => {
  test('counts a full queue’s drops under its own queue label, tells onDrop, and reports its depth (issue 10 item 10)', async () => {
    const app = Fastify();
    app.decorate('config', loadConfig({ NODE_ENV: 'test', ACCESS_LOG_FLUSH_INTERVAL_MS: '60000' }));
    app.decorate('metrics', createMetrics());
    let release: () => void = () => {};
    const written: number[] = [];
    const told: string[] = [];
    const queue = backgroundQueue<number>(app, {
      queue: 'refusal_events',
      holds: 'test entries',
      entriesMax: 10,
      batchEntriesMax: 10,
      // The first batch hangs until released: the queue behind it fills and then drops.
      write: (entries) =>
        new Promise<void>((resolve) => {
          written.push(entries.length);
          release = resolve;
        }),
      onDrop: (count, reason) => told.push(`${count} ${reason}`),
    });
    for (let entry = 0; entry < 23; entry += 1) queue.push(entry);
    // 10 in flight, 10 queued, 3 dropped.
    assert.deepEqual(written, [10]);
    assert.equal(queue.depth, 10);
    const metrics = await app.metrics.registry.metrics();
    assert.match(metrics, /corebank_background_queue_depth\{queue="refusal_events"\} 10/);
    assert.match(
      metrics,
      /corebank_background_queue_dropped_total\{queue="refusal_events",reason="queue_full"\} 3/,
    );
    assert.deepEqual(told, ['1 queue_full', '1 queue_full', '1 queue_full']);
    release();
    const closing = queue.close();
    await new Promise((resolve) => setTimeout(resolve, 10));
    release();
    await closing;
    assert.deepEqual(written, [10, 10]);
    await app.close();
  });
});
