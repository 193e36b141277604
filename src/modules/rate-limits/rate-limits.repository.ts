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
export async function readTrustScore(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
): Promise<number | undefined> {
  const row = await transaction
    .selectFrom('users')
    .select('trust_score')
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId)
    .executeTakeFirst();
  return row ? Number(row.trust_score) : undefined;
}
