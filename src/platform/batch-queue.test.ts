import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BatchQueue } from './batch-queue.ts';

describe('BatchQueue (the access log writer)', () => {
  test('writes in batches of at most batchEntriesMax and loses nothing on close', async () => {
    const batches: number[][] = [];
    const queue = new BatchQueue<number>({
      entriesMax: 100,
      batchEntriesMax: 4,
      flushIntervalMs: 60_000,
      write: async (entries) => {
        batches.push(entries);
      },
    });
    for (let index = 0; index < 10; index += 1) queue.push(index);
    await queue.close();
    assert.deepEqual(batches.flat(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.ok(batches.every((batch) => batch.length <= 4));
  });

  test('a full queue drops and counts instead of growing (bounded memory when the database is slow)', async () => {
    let release: () => void = () => {};
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const dropped: string[] = [];
    const queue = new BatchQueue<number>({
      entriesMax: 5,
      batchEntriesMax: 5,
      flushIntervalMs: 60_000,
      write: () => blocked,
      onDrop: (count, reason) => dropped.push(`${count}:${reason}`),
    });
    for (let index = 0; index < 5; index += 1) assert.equal(queue.push(index), true);
    // The first five went out as one (stuck) batch; five more fill the queue, the rest are dropped.
    for (let index = 0; index < 5; index += 1) assert.equal(queue.push(index), true);
    assert.equal(queue.push(99), false);
    assert.equal(queue.depth, 5);
    assert.deepEqual(dropped, ['1:queue_full']);
    release();
    await queue.close();
  });

  test('a failed batch goes back to the front and is written by the next attempt', async () => {
    let failures = 1;
    const written: number[] = [];
    const queue = new BatchQueue<number>({
      entriesMax: 10,
      batchEntriesMax: 10,
      flushIntervalMs: 5,
      write: async (entries) => {
        if (failures-- > 0) throw new Error('database unavailable');
        written.push(...entries);
      },
    });
    queue.push(1);
    queue.push(2);
    await new Promise((resolve) => setTimeout(resolve, 60));
    queue.push(3);
    await queue.close();
    assert.deepEqual(written, [1, 2, 3]);
  });
});

describe('BatchQueue close', () => {
  test('a write that never answers does not hold close() past closeWaitMs (regression: a test hung on a closed database)', async () => {
    const dropped: number[] = [];
    const queue = new BatchQueue<number>({
      entriesMax: 10,
      batchEntriesMax: 2,
      flushIntervalMs: 60_000,
      closeWaitMs: 50,
      write: () => new Promise<void>(() => {}),
      onDrop: (count) => dropped.push(count),
    });
    for (let index = 0; index < 5; index += 1) queue.push(index);
    const started = Date.now();
    await queue.close();
    assert.ok(Date.now() - started < 1000);
    assert.ok(
      dropped.reduce((sum, count) => sum + count, 0) >= 3,
      'the queued entries are counted as dropped',
    );
  });
});

describe('BatchQueue and a row the database refuses', () => {
  test('regression: one refused row no longer fails its batch for ever; it is isolated and dropped, the rest written', async () => {
    const written: number[] = [];
    const dropped: number[] = [];
    const queue = new BatchQueue<number>({
      entriesMax: 100,
      batchEntriesMax: 16,
      flushIntervalMs: 5,
      isTransient: () => false,
      write: async (entries) => {
        if (entries.includes(7)) throw new Error('invalid byte sequence for encoding "UTF8": 0x00');
        written.push(...entries);
      },
      onDrop: (count) => dropped.push(count),
    });
    for (let index = 0; index < 16; index += 1) queue.push(index);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await queue.close();
    assert.deepEqual(
      [...written].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15],
    );
    assert.deepEqual(dropped, [1]);
  });
});
