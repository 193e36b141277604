import assert from 'node:assert/strict';
import { type Insertable, type RawBuilder, sql } from 'kysely';
import type { SecurityEventsTable } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

export type NewSecurityEventRow = Insertable<SecurityEventsTable>;

/** One security event (seed 001 security_logs, seeds 003 and 004 security_events), in the caller's transaction. */
export async function insertSecurityEventRow(
  transaction: ScopedTransaction,
  row: NewSecurityEventRow,
): Promise<void> {
  await transaction.insertInto('security_events').values(row).execute();
}

/** Several events in one INSERT (the batched writers of refused requests). */
export async function insertSecurityEventRows(
  transaction: ScopedTransaction,
  rows: readonly NewSecurityEventRow[],
): Promise<void> {
  if (rows.length > 0)
    await transaction
      .insertInto('security_events')
      .values([...rows])
      .execute();
}

export interface SignalSubject {
  tenantId: string;
  userId: string | undefined;
  ipAddress: string | undefined;
  deviceFingerprint: string | undefined;
  country: string | undefined;
}

export interface SignalRow {
  has_history: boolean;
  known_address: boolean | null;
  known_device: boolean | null;
  known_country: boolean | null;
  recent_failures: number;
}

/**
 * The signals of a security event's scores in one statement (one round trip), each an indexed probe
 * of login_audits (migration 0013): has this user logged in successfully before, from this address,
 * this device fingerprint, this country; and how many logins failed in the last hour — the user's, or
 * the address's when there is no user. Run before the event's own login record is written.
 */
export async function findSecuritySignals(
  transaction: ScopedTransaction,
  subject: SignalSubject,
): Promise<SignalRow> {
  const { tenantId, userId } = subject;
  const successes = sql`from login_audits where tenant_id = ${tenantId}
    and coalesce(user_id, admin_id) = ${userId ?? null}::uuid
    and status = 'success' and login_type in ('user_login', 'admin_login')`;
  const probe = (condition: RawBuilder<unknown> | undefined) =>
    condition === undefined || userId === undefined
      ? sql`null::boolean`
      : sql`exists (select 1 ${successes} and ${condition})`;
  const failures =
    userId !== undefined
      ? sql`(select count(*)::int from login_audits where tenant_id = ${tenantId}
            and coalesce(user_id, admin_id) = ${userId}::uuid and status = 'failed'
            and created_at > now() - interval '1 hour')`
      : subject.ipAddress !== undefined
        ? sql`(select count(*)::int from login_audits where tenant_id = ${tenantId}
              and ip_address = ${subject.ipAddress}::inet and status = 'failed'
              and created_at > now() - interval '1 hour')`
        : sql`0`;
  const result = await sql<SignalRow>`select
      ${userId === undefined ? sql`false` : sql`exists (select 1 ${successes})`} as has_history,
      ${probe(subject.ipAddress === undefined ? undefined : sql`ip_address = ${subject.ipAddress}::inet`)} as known_address,
      ${probe(
        subject.deviceFingerprint === undefined
          ? undefined
          : sql`device_info ->> 'device_fingerprint' = ${subject.deviceFingerprint}`,
      )} as known_device,
      ${probe(subject.country === undefined ? undefined : sql`device_info ->> 'country' = ${subject.country}`)} as known_country,
      ${failures} as recent_failures`.execute(transaction);
  const row = result.rows[0];
  assert.ok(row, 'a select without from returns one row');
  return row;
}
