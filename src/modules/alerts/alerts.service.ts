import type { Kysely } from 'kysely';
import type { BaseLogger } from 'pino';
import type { AlertConfig } from '../../config/alert-config.ts';
import type { AlertSink, Database } from '../../db/schema.ts';
import { withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import { AppError } from '../../platform/errors.ts';
import type { AppMetrics } from '../../platform/metrics.ts';
import { decodeIdCursor, encodeIdCursor } from '../../platform/pagination.ts';
import { type AlertMessage, logAlert, postAlert, type SinkResult } from './alert-sinks.ts';
import {
  type ClaimedDelivery,
  claimDueDeliveries,
  type DeliveryRow,
  findDelivery,
  listDeliveries,
  listTenantIds,
  queueNewAlerts,
  recordDelivered,
  recordFailed,
  reviveDeadDelivery,
} from './alerts.repository.ts';
import type { AlertListQuery, AlertView } from './alerts.schemas.ts';

export interface AlertServices {
  db: Kysely<Database>;
  config: AlertConfig;
  logger: Pick<BaseLogger, 'warn'>;
  metrics: Pick<AppMetrics, 'alertDeliveriesTotal'>;
}

export interface AlertRunSummary {
  queued: number;
  delivered: number;
  retried: number;
  dead: number;
}

/** Deliveries claimed per tenant per run; they are sent at once, so a run lasts about one timeout. */
const claimBatchSize = 50;
/** Waits between attempts double from the base up to this. */
const backoffMsMax = 3_600_000;

function configuredSinks(config: AlertConfig): AlertSink[] {
  return config.webhook ? ['log', 'webhook'] : ['log'];
}

/** The wait after failed attempt n (1-based): base × 2^(n−1), at most an hour. */
export function retryDelayMs(config: AlertConfig, attempt: number): number {
  const base = config.webhook?.backoffBaseMs ?? 0;
  return Math.min(backoffMsMax, base * 2 ** Math.max(0, attempt - 1));
}

/**
 * One run of the alert job (every ALERT_INTERVAL_MS, on the one process that runs background jobs;
 * safe on several all the same): per tenant, queue the critical events no sink has yet, claim the
 * due deliveries, send each, and record each outcome. A claim survives a crash as a lease: a process
 * that dies mid-send leaves its rows to be claimed again once the lease ends (so a receiver may, rarely,
 * get one delivery twice: it drops a repeated X-Corebank-Delivery id).
 */
export async function runAlertDeliveries(services: AlertServices): Promise<AlertRunSummary> {
  const summary: AlertRunSummary = { queued: 0, delivered: 0, retried: 0, dead: 0 };
  const sinks = configuredSinks(services.config);
  // Longer than any send of a batch (they run at once, each bounded by the timeout).
  const leaseMs = 2 * (services.config.webhook?.timeoutMs ?? 1000) + 30_000;
  for (const tenantId of await listTenantIds(services.db)) {
    const claimed = await withScope(services.db, { tenantId }, async (transaction) => {
      summary.queued += await queueNewAlerts(transaction, tenantId, sinks);
      return claimDueDeliveries(transaction, tenantId, sinks, { batchSize: claimBatchSize, leaseMs });
    });
    const outcomes = await Promise.all(claimed.map((delivery) => deliverOne(services, tenantId, delivery)));
    for (const outcome of outcomes) summary[outcome] += 1;
  }
  return summary;
}

function alertMessage(tenantId: string, delivery: ClaimedDelivery): AlertMessage {
  return {
    id: delivery.id,
    tenant_id: tenantId,
    event: {
      ...delivery.payload,
      source: delivery.event_source,
      id: delivery.event_id,
      occurred_at: delivery.event_created_at.toISOString(),
    },
  };
}

async function send(services: AlertServices, delivery: ClaimedDelivery, message: AlertMessage) {
  const webhook = services.config.webhook;
  if (delivery.sink === 'log') return logAlert(services.logger, message);
  if (!webhook) return { ok: false, error: 'the webhook sink is not configured' } satisfies SinkResult;
  return postAlert(webhook, message);
}

async function deliverOne(
  services: AlertServices,
  tenantId: string,
  delivery: ClaimedDelivery,
): Promise<'delivered' | 'retried' | 'dead'> {
  const result = await send(services, delivery, alertMessage(tenantId, delivery));
  const claim = { id: delivery.id, attempts: delivery.attempts };
  const counted = (outcome: 'delivered' | 'retry' | 'dead') =>
    services.metrics.alertDeliveriesTotal.inc({ sink: delivery.sink, outcome });
  if (result.ok) {
    await withScope(services.db, { tenantId }, (transaction) =>
      recordDelivered(transaction, tenantId, claim),
    );
    counted('delivered');
    return 'delivered';
  }
  const dead = delivery.attempts >= (services.config.webhook?.attemptsMax ?? 1);
  const retryAfterMs = retryDelayMs(services.config, delivery.attempts);
  await withScope(services.db, { tenantId }, (transaction) =>
    recordFailed(transaction, tenantId, claim, { dead, retryAfterMs, error: result.error }),
  );
  counted(dead ? 'dead' : 'retry');
  const fields = { delivery_id: delivery.id, sink: delivery.sink, attempts: delivery.attempts };
  services.logger.warn(
    { alert_delivery: { ...fields, error: result.error } },
    dead ? 'alert delivery dead after its last attempt' : 'alert delivery failed; it will be retried',
  );
  return dead ? 'dead' : 'retried';
}

const iso = (value: Date | null) => (value ? value.toISOString() : null);
const text = (value: unknown) => (typeof value === 'string' ? value : null);

function alertView(row: DeliveryRow): AlertView {
  return {
    id: row.id,
    sink: row.sink,
    status: row.status,
    event_source: row.event_source,
    event_id: row.event_id,
    event_type: text(row.payload.type),
    severity: text(row.payload.severity),
    event_created_at: row.event_created_at.toISOString(),
    attempts: row.attempts,
    next_attempt_at: row.next_attempt_at.toISOString(),
    last_error: row.last_error,
    delivered_at: iso(row.delivered_at),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export async function listAlertDeliveries(
  db: Kysely<Database>,
  tenantId: string,
  query: AlertListQuery,
): Promise<{ alerts: AlertView[]; next_cursor: string | null }> {
  const beforeId = query.cursor ? decodeIdCursor(query.cursor) : undefined;
  const rows = await withScope(db, { tenantId }, (transaction) =>
    listDeliveries(
      transaction,
      tenantId,
      { status: query.status, sink: query.sink },
      beforeId,
      query.limit + 1,
    ),
  );
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    alerts: page.map(alertView),
    next_cursor: rows.length > query.limit && last ? encodeIdCursor(last.id) : null,
  };
}

/**
 * A dead letter sent again: back to pending with its attempts reset, due at the job's next run. The
 * conditional UPDATE decides (two staff retrying at once revive it once; the other gets 409).
 */
export async function retryAlertDelivery(
  db: Kysely<Database>,
  context: AuditContext,
  id: string,
): Promise<AlertView> {
  const row = await withScope(db, { tenantId: context.tenantId }, async (transaction) => {
    const revived = await reviveDeadDelivery(transaction, context.tenantId, id);
    if (!revived) {
      const current = await findDelivery(transaction, context.tenantId, id);
      if (!current) throw new AppError('NOT_FOUND');
      throw new AppError('CONFLICT', `Only a dead delivery can be retried; this one is ${current.status}.`);
    }
    await recordAudit(transaction, context, {
      entityType: 'alert_delivery',
      entityId: id,
      action: 'retry',
      eventType: 'ALERT_RETRIED',
      oldValues: { status: 'dead' },
      newValues: { status: 'pending', attempts: 0 },
    });
    return revived;
  });
  return alertView(row);
}
