import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { withScope } from '../../db/tenant-transaction.ts';
import {
  activeTenantIds,
  type Period,
  scheduledReportExists,
  tryLockTenantSchedule,
} from './compliance.repository.ts';
import { type ComplianceSettings, storeReport } from './compliance.service.ts';

/** The report the schedule generates each day. */
export const scheduledReportType = 'daily_transaction_summary';

/** The UTC day before the one `now` falls in: [yesterday 00:00, today 00:00). */
export function previousUtcDay(now: Date): Period {
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  return { from: new Date(to.getTime() - 86_400_000), to };
}

export interface ScheduledRun {
  generated: { tenantId: string; reportId: string }[];
  /** Tenants whose report for the day exists already, or that another process is generating now. */
  skipped: number;
}

/**
 * One check of the daily schedule: every active tenant without the schedule's daily transaction
 * summary of the previous UTC day gets one. Per tenant, one transaction holds an advisory lock (a
 * second server skips the tenant instead of building the same report), checks the report is missing,
 * builds and stores it; the partial unique index of migration 0020 makes a duplicate impossible even
 * if the lock were lost.
 */
export async function runScheduledReports(
  db: Kysely<Database>,
  settings: ComplianceSettings,
  now: Date = new Date(),
): Promise<ScheduledRun> {
  const period = previousUtcDay(now);
  const run: ScheduledRun = { generated: [], skipped: 0 };
  for (const { id: tenantId } of await activeTenantIds(db)) {
    const reportId = await withScope(db, { tenantId }, async (transaction) => {
      if (!(await tryLockTenantSchedule(transaction, tenantId))) return undefined;
      if (await scheduledReportExists(transaction, tenantId, scheduledReportType, period)) return undefined;
      const row = await storeReport(
        transaction,
        settings,
        { tenantId },
        {
          type: scheduledReportType,
          period,
          source: 'schedule',
          attestation: undefined,
        },
      );
      return row?.id;
    });
    if (reportId) run.generated.push({ tenantId, reportId });
    else run.skipped += 1;
  }
  return run;
}
