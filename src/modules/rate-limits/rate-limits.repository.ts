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
