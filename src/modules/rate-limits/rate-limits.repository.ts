import { sql } from 'kysely';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

/** One rate_limit_violations row (seed 004) as the recorder hands it over. */
export interface ViolationRow {
  tenant_id: string;
  created_at: Date;
  user_id: string | null;
  ip_address: string;
  endpoint: string;
  request_count: number;
  limit_threshold: number;
  time_window_minutes: number;
  violation_type: string;
  user_agent: string | null;
  blocked_duration_minutes: number;
}

/** Writes one tenant's violations in one INSERT, in the caller's transaction scoped to that tenant. */
export async function insertViolations(
  transaction: ScopedTransaction,
  rows: readonly ViolationRow[],
): Promise<void> {
  await transaction
    .insertInto('rate_limit_violations')
    .values(rows.map((row) => ({ ...row })))
    .execute();
}

/** The user's trust score (users.trust_score, 0-100, seed 003), or undefined for no such user. */
export interface TrustScores {
  user: number;
  /** The trust of the unexpired trusted device the session's login came from, if it did. */
  device: number | undefined;
}

/** The user's trust score and that of the session's trusted device, in one read. */
export async function readTrustScores(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  sessionId: string | undefined,
): Promise<TrustScores | undefined> {
  const row = await transaction
    .selectFrom('users as u')
    .leftJoin('device_sessions as s', (join) =>
      join
        .onRef('s.tenant_id', '=', 'u.tenant_id')
        .onRef('s.user_id', '=', 'u.id')
        .on('s.id', '=', sessionId ?? '00000000-0000-0000-0000-000000000000'),
    )
    .leftJoin('trusted_devices as d', (join) =>
      join
        .onRef('d.tenant_id', '=', 's.tenant_id')
        .onRef('d.user_id', '=', 's.user_id')
        .onRef('d.id', '=', 's.trusted_device_id')
        .on('d.is_trusted', '=', true)
        .on('d.expires_at', '>', sql<Date>`now()`),
    )
    .select(['u.trust_score as user_score', 'd.trust_score as device_score'])
    .where('u.tenant_id', '=', tenantId)
    .where('u.id', '=', userId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    user: Number(row.user_score),
    device: row.device_score === null ? undefined : Number(row.device_score),
  };
}
