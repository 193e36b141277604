import { sql } from 'kysely';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

/**
 * Fixed-window counters in the database (table security_counters, migration 0008), for limits that
 * must hold across every server process sharing the database: message sends per phone, email address
 * and client address, and login failures per client address and per unknown identifier.
 *
 * A reservation is one conditional upsert, so the decision is atomic however many requests arrive at
 * once: the first `max` statements of a window get a row back, every later one gets none. There is no
 * read-then-write anywhere.
 */
export type CounterScope =
  | 'login_address_failures'
  | 'login_unknown_identifier'
  | 'login_address_blocked_event'
  | 'sms_phone'
  | 'email_address'
  | 'message_address';

export interface CounterKey {
  tenantId: string;
  scope: CounterScope;
  /** A keyed hash of the subject (64 hex characters); never the phone, email or address itself. */
  subjectHash: string;
}

export interface CounterLimit {
  max: number;
  windowSeconds: number;
}

export type CounterReservation =
  | { granted: true; count: number; windowStartedAt: Date }
  | { granted: false; retryAfterSeconds: number };

/**
 * Takes one unit of the current window, or none when the window is full. The window is computed from
 * the database clock, so every process agrees on it.
 */
export async function reserveCounter(
  transaction: ScopedTransaction,
  key: CounterKey,
  limit: CounterLimit,
): Promise<CounterReservation> {
  const result = await sql<{ count: number | null; started_at: Date; retry_after_seconds: number }>`
    with bucket as (
      select to_timestamp(floor(extract(epoch from now()) / ${limit.windowSeconds}::integer)
               * ${limit.windowSeconds}::integer) as started_at
    ), taken as (
      insert into security_counters as c (tenant_id, scope, subject_hash, window_started_at, window_ends_at, count)
      select ${key.tenantId}::uuid, ${key.scope}, ${key.subjectHash}, bucket.started_at,
             bucket.started_at + make_interval(secs => ${limit.windowSeconds}::integer), 1
        from bucket
      on conflict (tenant_id, scope, subject_hash, window_started_at)
        do update set count = c.count + 1 where c.count < ${limit.max}::integer
      returning c.count
    )
    select (select count from taken) as count, bucket.started_at,
           greatest(1, ceil(extract(epoch from bucket.started_at
             + make_interval(secs => ${limit.windowSeconds}::integer) - now())))::integer as retry_after_seconds
      from bucket`.execute(transaction);
  const row = result.rows[0];
  if (!row) throw new Error('the counter statement returned no row');
  if (row.count === null) return { granted: false, retryAfterSeconds: row.retry_after_seconds };
  return { granted: true, count: row.count, windowStartedAt: row.started_at };
}

/** Gives back one unit taken in the given window (a reserved attempt that turned out not to fail). */
export async function releaseCounter(
  transaction: ScopedTransaction,
  key: CounterKey,
  windowStartedAt: Date,
): Promise<void> {
  await transaction
    .updateTable('security_counters')
    .set({ count: sql<number>`count - 1` })
    .where('tenant_id', '=', key.tenantId)
    .where('scope', '=', key.scope)
    .where('subject_hash', '=', key.subjectHash)
    .where('window_started_at', '=', windowStartedAt)
    .where('count', '>', 0)
    .execute();
}

/** Deletes the counters of windows that have ended; run by the cleanup job. */
export async function deleteEndedCounters(transaction: ScopedTransaction, tenantId: string): Promise<number> {
  const result = await transaction
    .deleteFrom('security_counters')
    .where('tenant_id', '=', tenantId)
    .where('window_ends_at', '<=', sql<Date>`now()`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
