import { type Kysely, sql } from 'kysely';
import type { AlertDeliveryStatus, AlertSink, Database } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

/**
 * How far back the alert job looks for critical events not yet queued. A window rather than a
 * high-water mark: an event's created_at is its transaction's start, so a long transaction can commit
 * an event older than one queued already; the unique (sink, source, event) key makes a second look
 * harmless. An event older than this when the job first sees it (the job stopped longer) is not sent.
 */
export const alertLookbackHours = 24;

const sinkValues = (sinks: readonly AlertSink[]) => sql.join(sinks.map((sink) => sql`(${sink}::varchar)`));

/**
 * Queues every critical event of the tenant in the lookback window that a sink has no delivery for
 * yet: security events of severity critical, threat events of severity high or critical (a threat
 * event is already a detection whose response ran; docs/security.md "Alerts"). The payload is the
 * event's public fields, bounded; never its details or metadata. Returns how many were queued.
 */
export async function queueNewAlerts(
  transaction: ScopedTransaction,
  tenantId: string,
  sinks: readonly AlertSink[],
): Promise<number> {
  const since = sql`now() - make_interval(hours => ${alertLookbackHours})`;
  const result = await sql<{ id: string }>`
    insert into alert_deliveries (tenant_id, sink, event_source, event_id, event_created_at, payload)
    select ${tenantId}::uuid, sinks.sink, events.source, events.id, events.created_at, events.payload
    from (
      select 'security_event'::varchar as source, id, created_at, jsonb_build_object(
          'type', event_type, 'category', event_category, 'severity', severity,
          'user_id', user_id, 'ip_address', host(ip_address), 'action_taken', action_taken,
          'risk_score', risk_score::float8, 'description', left(description, 1000)) as payload
        from security_events
        where tenant_id = ${tenantId} and severity = 'critical' and created_at > ${since}
      union all
      select 'threat_event'::varchar, id, created_at, jsonb_build_object(
          'type', threat_type, 'category', 'threat', 'severity', severity, 'status', status,
          'confidence', confidence::float8, 'response_action', response_action,
          'affected_user_ids', to_jsonb(affected_user_ids[1:20]),
          'indicators', (select coalesce(jsonb_agg(left(indicator, 200)), '[]'::jsonb)
                         from unnest(indicators[1:10]) as indicator),
          'description', left(description, 1000))
        from threat_events
        where tenant_id = ${tenantId} and severity in ('high', 'critical') and created_at > ${since}
    ) as events
    cross join (values ${sinkValues(sinks)}) as sinks (sink)
    where not exists (
      select 1 from alert_deliveries d
      where d.tenant_id = ${tenantId} and d.sink = sinks.sink
        and d.event_source = events.source and d.event_id = events.id)
    -- One insertion order for every process: two runs queueing at once wait on each other, never deadlock.
    order by events.source, events.id, sinks.sink
    on conflict (tenant_id, sink, event_source, event_id) do nothing
    returning id`.execute(transaction);
  return result.rows.length;
}

/**
 * Claims the tenant's due pending deliveries to the given sinks in one statement: the rows are locked
 * with SKIP LOCKED (another process claiming at the same moment takes other rows), their attempt
 * counted and their next attempt moved past the lease, so a process that dies while sending leaves
 * them to be claimed again once the lease ends. The caller records the outcome against the attempt
 * number it claimed (recordDelivered / recordFailed).
 */
export async function claimDueDeliveries(
  transaction: ScopedTransaction,
  tenantId: string,
  sinks: readonly AlertSink[],
  options: { batchSize: number; leaseMs: number },
) {
  const result = await sql<{
    id: string;
    sink: AlertSink;
    event_source: string;
    event_id: string;
    event_created_at: Date;
    payload: Record<string, unknown>;
    attempts: number;
  }>`
    with due as (
      select id from alert_deliveries
      where tenant_id = ${tenantId} and status = 'pending' and next_attempt_at <= now()
        and sink in (${sql.join(sinks)})
      order by next_attempt_at
      limit ${options.batchSize}
      for update skip locked
    )
    update alert_deliveries d
    set attempts = d.attempts + 1,
        next_attempt_at = now() + make_interval(secs => ${options.leaseMs / 1000})
    from due
    where d.tenant_id = ${tenantId} and d.id = due.id
    returning d.id, d.sink, d.event_source, d.event_id, d.event_created_at, d.payload, d.attempts`.execute(
    transaction,
  );
  return result.rows;
}

export type ClaimedDelivery = Awaited<ReturnType<typeof claimDueDeliveries>>[number];

/** Delivered, if the row is still the claim this process made (status pending, same attempt). */
export async function recordDelivered(
  transaction: ScopedTransaction,
  tenantId: string,
  claimed: { id: string; attempts: number },
): Promise<boolean> {
  const result = await transaction
    .updateTable('alert_deliveries')
    .set({ status: 'delivered', delivered_at: sql<Date>`now()`, last_error: null })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', claimed.id)
    .where('status', '=', 'pending')
    .where('attempts', '=', claimed.attempts)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** A failed attempt: dead after the last one, else pending again after the backoff. */
export async function recordFailed(
  transaction: ScopedTransaction,
  tenantId: string,
  claimed: { id: string; attempts: number },
  outcome: { dead: boolean; retryAfterMs: number; error: string },
): Promise<boolean> {
  const result = await transaction
    .updateTable('alert_deliveries')
    .set({
      status: outcome.dead ? 'dead' : 'pending',
      next_attempt_at: sql<Date>`now() + make_interval(secs => ${outcome.retryAfterMs / 1000})`,
      last_error: outcome.error.slice(0, 500),
    })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', claimed.id)
    .where('status', '=', 'pending')
    .where('attempts', '=', claimed.attempts)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

const deliveryColumns = [
  'id',
  'sink',
  'event_source',
  'event_id',
  'event_created_at',
  'payload',
  'status',
  'attempts',
  'next_attempt_at',
  'last_error',
  'delivered_at',
  'created_at',
  'updated_at',
] as const;

export function listDeliveries(
  transaction: ScopedTransaction,
  tenantId: string,
  filter: { status?: AlertDeliveryStatus | undefined; sink?: AlertSink | undefined },
  beforeId: string | undefined,
  limit: number,
) {
  let query = transaction
    .selectFrom('alert_deliveries')
    .select(deliveryColumns)
    .where('tenant_id', '=', tenantId);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.sink) query = query.where('sink', '=', filter.sink);
  if (beforeId) query = query.where('id', '<', beforeId);
  return query.orderBy('id', 'desc').limit(limit).execute();
}

export type DeliveryRow = Awaited<ReturnType<typeof listDeliveries>>[number];

export function findDelivery(transaction: ScopedTransaction, tenantId: string, id: string) {
  return transaction
    .selectFrom('alert_deliveries')
    .select(deliveryColumns)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** A dead letter back to pending, due now, with its attempts reset; only if it is still dead. */
export function reviveDeadDelivery(transaction: ScopedTransaction, tenantId: string, id: string) {
  return transaction
    .updateTable('alert_deliveries')
    .set({ status: 'pending', attempts: 0, next_attempt_at: sql<Date>`now()` })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .where('status', '=', 'dead')
    .returning(deliveryColumns)
    .executeTakeFirst();
}

/** Every tenant (suspended ones too: a suspended tenant's critical events still need a reader). */
export async function listTenantIds(db: Kysely<Database>): Promise<string[]> {
  const rows = await db.selectFrom('tenants').select('id').orderBy('id').execute();
  return rows.map((row) => row.id);
}
