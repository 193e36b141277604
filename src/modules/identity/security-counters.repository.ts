import assert from 'node:assert/strict';
import { sql } from 'kysely';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

/**
 * Windowed counters in the database (table security_counters, migration 0008), for limits that
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
 * Takes one unit of the subject's current window, or none when the window is full. A window opens with
 * the first unit (or the first after the previous window ended) and lasts `windowSeconds` by the
 * database clock, so every process agrees on it. A refusal says how long until the window ends.
 */
export async function reserveCounter(
  transaction: ScopedTransaction,
  key: CounterKey,
  limit: CounterLimit,
): Promise<CounterReservation> {
  const windowLength = sql`make_interval(secs => ${limit.windowSeconds}::integer)`;
  // Milliseconds, so the caller can name the window it took a unit from (releaseCounter) exactly.
  // Retry-After counts from the clock, not from now() (this transaction's start): a request that
  // waited for the counter's row lock behind the one that opened the window answered 901 s for a
  // 900 s window (CI on 82665c8).
  const opened = sql`date_trunc('milliseconds', now())`;
  const ended = sql`c.window_ends_at <= now()`;
  const result = await sql<{ count: number | null; started_at: Date | null; retry_after_seconds: number }>`
    with current as (
      select window_ends_at from security_counters
       where tenant_id = ${key.tenantId}::uuid and scope = ${key.scope} and subject_hash = ${key.subjectHash}
    ), taken as (
      insert into security_counters as c (tenant_id, scope, subject_hash, window_started_at, window_ends_at, count)
      values (${key.tenantId}::uuid, ${key.scope}, ${key.subjectHash}, ${opened}, ${opened} + ${windowLength}, 1)
      on conflict (tenant_id, scope, subject_hash) do update set
        count = case when ${ended} then 1 else c.count + 1 end,
        window_started_at = case when ${ended} then ${opened} else c.window_started_at end,
        window_ends_at = case when ${ended} then ${opened} + ${windowLength} else c.window_ends_at end
      where ${ended} or c.count < ${limit.max}::integer
      returning c.count, c.window_started_at
    )
    select (select count from taken) as count, (select window_started_at from taken) as started_at,
           greatest(1, ceil(extract(epoch from
             coalesce((select window_ends_at from current), now() + ${windowLength}) - clock_timestamp())))::integer
             as retry_after_seconds`.execute(transaction);
  const row = result.rows[0];
  // A select without a from clause always returns exactly one row.
  assert.ok(row, 'the counter statement returned no row');
  if (row.count === null || row.started_at === null) {
    return { granted: false, retryAfterSeconds: row.retry_after_seconds };
  }
  return { granted: true, count: row.count, windowStartedAt: row.started_at };
}

/**
 * Locks the subject's counter row and says whether its current window is full, with the seconds until
 * it ends; undefined when a unit could still be taken. A check that decides after evaluating a
 * credential holds this lock until it commits, so concurrent checks see each other's units. The row is
 * created when missing — empty, its window already over, so the first unit still opens the window —
 * because a lock on a row that does not exist yet is no lock: two checks would both pass it, queue on
 * the account's row, and then lock the counter in the opposite order (a deadlock on PostgreSQL).
 */
export async function lockFullCounter(
  transaction: ScopedTransaction,
  key: CounterKey,
  limit: CounterLimit,
): Promise<{ retryAfterSeconds: number } | undefined> {
  const result = await sql<{ count: number; open: boolean; retry_after_seconds: number }>`
    insert into security_counters as c (tenant_id, scope, subject_hash, window_started_at, window_ends_at, count)
    values (${key.tenantId}::uuid, ${key.scope}, ${key.subjectHash}, now() - interval '1 millisecond', now(), 0)
    on conflict (tenant_id, scope, subject_hash) do update set count = c.count
    returning c.count, c.window_ends_at > now() as open,
              greatest(1, ceil(extract(epoch from c.window_ends_at - clock_timestamp())))::integer as retry_after_seconds`.execute(
    transaction,
  );
  const row = result.rows[0];
  if (!row?.open || row.count < limit.max) return undefined;
  return { retryAfterSeconds: row.retry_after_seconds };
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
