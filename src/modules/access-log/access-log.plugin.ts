import type { FastifyInstance } from 'fastify';
import { Counter, Gauge } from 'prom-client';
import { databaseUnavailable } from '../../db/database-errors.ts';
import { BatchQueue } from '../../platform/batch-queue.ts';
import { writePerTenant } from '../../platform/tenant-batches.ts';
import { type AccessLogEntry, accessLogEntry } from './access-log.entry.ts';
import { insertAccessLogRows } from './access-log.repository.ts';

/**
 * The API access log (seed 004, issue 10 item 7): every answered request becomes a row of
 * api_access_log, queued in memory and written in batches (one INSERT per tenant per batch) after the
 * response has gone out. A request never waits for it and never fails because of it; when the
 * database is slow the queue fills and further entries are dropped and counted
 * (corebank_access_log_dropped_total); on close everything queued is written before the database
 * closes. Requests that named no tenant, or one that does not resolve, are logged under the default
 * tenant.
 */
export function registerAccessLog(app: FastifyInstance): void {
  const settings = app.config.security.accessLog;
  if (!settings.enabled) return;
  let queue: BatchQueue<AccessLogEntry> | undefined;
  const metrics = accessLogMetrics(app, () => queue?.depth ?? 0);
  queue = new BatchQueue<AccessLogEntry>({
    entriesMax: settings.queueEntriesMax,
    batchEntriesMax: settings.batchEntriesMax,
    flushIntervalMs: settings.flushIntervalMs,
    closeWaitMs: settings.closeWaitMs,
    isTransient: (error) => databaseUnavailable(error) !== undefined,
    write: (entries) =>
      writeEntries(app, entries, (count) => metrics.dropped.inc({ reason: 'no_tenant' }, count)),
    onDrop: (count, reason) => metrics.dropped.inc({ reason }, count),
    onWritten: (count) => metrics.written.inc(count),
    onWriteError: (error) => app.log.warn({ err: error }, 'access log batch not written; it will be retried'),
  });
  app.addHook('onResponse', async (request, reply) => {
    queue?.push(accessLogEntry(request, reply));
  });
  // onClose runs once the server has stopped taking requests and the in-flight ones have answered.
  app.addHook('onClose', async () => {
    await queue?.close();
  });
}

function writeEntries(
  app: FastifyInstance,
  entries: readonly AccessLogEntry[],
  onUnfiled: (count: number) => void,
): Promise<void> {
  return writePerTenant(app, entries, insertAccessLogRows, onUnfiled);
}

function accessLogMetrics(app: FastifyInstance, depth: () => number) {
  const registers = [app.metrics.registry];
  return {
    written: new Counter({
      name: 'corebank_access_log_written_total',
      help: 'API access log rows written.',
      registers,
    }),
    dropped: new Counter({
      name: 'corebank_access_log_dropped_total',
      help: 'API access log entries dropped: the queue was full, or a batch failed with no room to retry.',
      labelNames: ['reason'],
      registers,
    }),
    depth: new Gauge({
      name: 'corebank_access_log_queue_depth',
      help: 'API access log entries waiting to be written.',
      registers,
      collect() {
        this.set(depth());
      },
    }),
  };
}
