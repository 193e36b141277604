import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { withScope } from '../../db/tenant-transaction.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import {
  type StatisticsRow,
  type SupplyRow,
  selectStatistics,
  selectTotalSupply,
} from './statistics.repository.ts';

/** Counts and totals per type, status and UTC day over the last `days` days, in the staff member's tenant. */
export async function readStatistics(
  db: Kysely<Database>,
  principal: Principal,
  days: number,
): Promise<{ days: number; statistics: StatisticsRow[] }> {
  const tenantId = principal.tenantId;
  const statistics = await withScope(db, { tenantId }, (transaction) =>
    selectStatistics(transaction, tenantId, days),
  );
  return { days, statistics };
}

/** Total supply per asset in the staff member's tenant. */
export async function readTotalSupply(
  db: Kysely<Database>,
  principal: Principal,
): Promise<{ assets: SupplyRow[] }> {
  const tenantId = principal.tenantId;
  const assets = await withScope(db, { tenantId }, (transaction) => selectTotalSupply(transaction, tenantId));
  return { assets };
}
