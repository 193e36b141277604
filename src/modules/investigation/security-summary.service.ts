import type { DatabaseHandle } from '../../db/database.ts';
import { withScope } from '../../db/tenant-transaction.ts';
import {
  failedLoginsByAddress,
  largeOutgoingEntries,
  openIncidentsBySeverity,
  readSummaryCounts,
  topOffendingAddresses,
} from './security-summary.repository.ts';

const topRows = 10;

/**
 * GET /v1/admin/security/summary: seed 001's and seed 000's alerting queries for the tenant, read in
 * one transaction so the figures describe one instant.
 */
export function readSecuritySummary(database: DatabaseHandle, tenantId: string, largeAmountMinor: number) {
  return withScope(database.db, { tenantId }, async (transaction) => {
    const counts = await readSummaryCounts(transaction, tenantId);
    return {
      generated_at: new Date().toISOString(),
      ...counts,
      failed_logins_by_address_last_hour: await failedLoginsByAddress(transaction, tenantId, topRows),
      top_offending_addresses_last_24_hours: await topOffendingAddresses(transaction, tenantId, topRows),
      open_incidents_by_severity: await openIncidentsBySeverity(transaction, tenantId),
      large_outgoing_last_24_hours: {
        amount_min: largeAmountMinor,
        entries: await largeOutgoingEntries(transaction, tenantId, largeAmountMinor, topRows),
      },
    };
  });
}
