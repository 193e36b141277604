import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { withScope } from '../../db/tenant-transaction.ts';

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

/** Writes one tenant's violations in one INSERT, in the tenant's scope. */
export async function insertViolations(
  db: Kysely<Database>,
  tenantId: string,
  rows: readonly ViolationRow[],
): Promise<void> {
  await withScope(db, { tenantId }, (transaction) =>
    transaction
      .insertInto('rate_limit_violations')
      .values(rows.map((row) => ({ ...row })))
      .execute(),
  );
}
