import type { FastifyInstance } from 'fastify';
import { backgroundQueue } from '../../platform/background-queue.ts';
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
declare module 'fastify' {
  interface FastifyInstance {
    /** Writes every queued access log entry now (the erasure does, so none lands after it). */
    flushAccessLog: () => Promise<void>;
  }
  interface FastifyContextConfig {
    /**
     * A successful answer of this route is logged without the client's address, user agent and
     * headers: the request that erased them (POST /v1/me/erasure) must not write them again.
     */
    accessLogWithoutClient?: boolean;
  }
}

export function registerAccessLog(app: FastifyInstance): void {
  const settings = app.config.security.accessLog;
  if (!settings.enabled) {
    app.decorate('flushAccessLog', async () => undefined);
    return;
  }
  const { metrics } = app;
  const queue = backgroundQueue<AccessLogEntry>(app, {
    queue: 'access_log',
    holds: 'access log batch',
    entriesMax: settings.queueEntriesMax,
    batchEntriesMax: settings.batchEntriesMax,
    write: (entries, onUnfiled) => writePerTenant(app, entries, insertAccessLogRows, onUnfiled),
    onDrop: (count, reason) => metrics.accessLogDroppedTotal.inc({ reason }, count),
    onWritten: (count) => metrics.accessLogWrittenTotal.inc(count),
  });
  app.decorate('flushAccessLog', () => queue.flush());
  app.addHook('onResponse', async (request, reply) => {
    queue.push(accessLogEntry(request, reply));
  });
  // onClose runs once the server has stopped taking requests and the in-flight ones have answered.
  app.addHook('onClose', async () => {
    await queue.close();
  });
}
