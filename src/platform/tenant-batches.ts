import type { DatabaseHandle } from '../db/database.ts';
import { applicationRole, applyScope, type ScopedTransaction } from '../db/tenant-transaction.ts';
import type { TenantResolverContext } from './tenant-resolver.ts';
import { resolveTenantId } from './tenant-resolver.ts';

/** A row written in the background for the tenant its request acted for, when that is known. */
export interface TenantEntry<Row> {
  tenantId: string | undefined;
  row: Row;
}

export type TenantInsert<Row> = (
  transaction: ScopedTransaction,
  rows: (Row & { tenant_id: string })[],
) => Promise<void>;

/**
 * Writes a batch of background rows (the access log, rate-limit violations, security events): one
 * INSERT per tenant, each in that tenant's row-level-security scope, all in ONE transaction, so a
 * failure leaves none of the batch written and a retry cannot write a tenant's rows twice. Rows of
 * requests that named no tenant go to the default tenant; if it cannot be resolved (suspended, not
 * seeded) only those rows are dropped, reported through onUnfiled.
 */
export async function writePerTenant<Row extends object>(
  app: TenantResolverContext & { database: DatabaseHandle },
  entries: readonly TenantEntry<Row>[],
  insert: TenantInsert<Row>,
  onUnfiled?: (count: number) => void,
): Promise<void> {
  const needsDefault = entries.some((entry) => entry.tenantId === undefined);
  const defaultTenantId = needsDefault
    ? await resolveTenantId(app, { headers: {} }).catch(() => undefined)
    : undefined;
  const byTenant = new Map<string, (Row & { tenant_id: string })[]>();
  let unfiled = 0;
  for (const entry of entries) {
    const tenantId = entry.tenantId ?? defaultTenantId;
    if (tenantId === undefined) {
      unfiled += 1;
      continue;
    }
    const rows = byTenant.get(tenantId) ?? [];
    rows.push({ ...entry.row, tenant_id: tenantId });
    byTenant.set(tenantId, rows);
  }
  if (unfiled > 0) onUnfiled?.(unfiled);
  if (byTenant.size === 0) return;
  await app.database.db.transaction().execute(async (transaction) => {
    for (const [tenantId, rows] of byTenant) {
      await applyScope(transaction, { tenantId }, applicationRole);
      await insert(transaction, rows);
    }
  });
}
