import type { TenantResolverContext } from './tenant-resolver.ts';
import { resolveTenantId } from './tenant-resolver.ts';

/** A row written in the background for the tenant its request acted for, when that is known. */
export interface TenantEntry<Row> {
  tenantId: string | undefined;
  row: Row;
}

/**
 * Writes a batch of background rows (the access log, rate-limit violations) one INSERT per tenant.
 * Rows of requests that named no tenant, or none that resolved, go to the default tenant.
 */
export async function writePerTenant<Row extends object>(
  app: TenantResolverContext,
  entries: readonly TenantEntry<Row>[],
  insert: (tenantId: string, rows: (Row & { tenant_id: string })[]) => Promise<void>,
): Promise<void> {
  const defaultTenantId = await resolveTenantId(app, { headers: {} });
  const byTenant = new Map<string, (Row & { tenant_id: string })[]>();
  for (const entry of entries) {
    const tenantId = entry.tenantId ?? defaultTenantId;
    const rows = byTenant.get(tenantId) ?? [];
    rows.push({ ...entry.row, tenant_id: tenantId });
    byTenant.set(tenantId, rows);
  }
  for (const [tenantId, rows] of byTenant) await insert(tenantId, rows);
}
