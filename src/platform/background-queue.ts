import type { FastifyInstance } from 'fastify';
import { databaseUnavailable } from '../db/database-errors.ts';
import { BatchQueue } from './batch-queue.ts';
import type { BackgroundQueueName } from './metrics.ts';

export type DropReason = 'queue_full' | 'write_failed' | 'closed' | 'no_tenant';

export interface BackgroundQueueOptions<Entry> {
  queue: BackgroundQueueName;
  entriesMax: number;
  batchEntriesMax: number;
  /** Writes one batch; reports the entries it could not file under a tenant (they are dropped). */
  write: (entries: Entry[], onUnfiled: (count: number) => void) => Promise<void>;
  /** Told of every drop besides the shared counter (the access log keeps its own metric too). */
  onDrop?: (count: number, reason: DropReason) => void;
  onWritten?: (count: number) => void;
  /** What the queue holds, for the log line of a failed batch ("access log", "security events"). */
  holds: string;
}

/**
 * The one set-up of the background queues that write request-side rows after the response (the API
 * access log, refusal security events, rate-limit violations): the flush interval and shutdown wait of
 * ACCESS_LOG_*, retries only while the database is unavailable (a refused row is isolated and
 * dropped), every drop counted in corebank_background_queue_dropped_total{queue,reason}, the depth
 * read by corebank_background_queue_depth{queue}, and a warning per failed batch.
 */
export function backgroundQueue<Entry>(
  app: FastifyInstance,
  options: BackgroundQueueOptions<Entry>,
): BatchQueue<Entry> {
  const settings = app.config.security.accessLog;
  const dropped = (count: number, reason: DropReason) => {
    app.metrics.backgroundQueueDroppedTotal.inc({ queue: options.queue, reason }, count);
    options.onDrop?.(count, reason);
  };
  const queue = new BatchQueue<Entry>({
    entriesMax: options.entriesMax,
    batchEntriesMax: options.batchEntriesMax,
    flushIntervalMs: settings.flushIntervalMs,
    closeWaitMs: settings.closeWaitMs,
    isTransient: (error) => databaseUnavailable(error) !== undefined,
    write: (entries) => options.write(entries, (count) => dropped(count, 'no_tenant')),
    onDrop: dropped,
    ...(options.onWritten ? { onWritten: options.onWritten } : {}),
    onWriteError: (error) =>
      app.log.warn({ err: error, queue: options.queue }, `${options.holds} not written; retrying`),
  });
  app.metrics.watchQueueDepth(options.queue, () => queue.depth);
  return queue;
}
