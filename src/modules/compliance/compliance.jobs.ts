import type { Logger } from 'pino';
import type { Config } from '../../config/config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import type { ScheduledJob } from '../../platform/scheduler.ts';
import { complianceSettings } from './compliance.service.ts';
import { runScheduledReports } from './compliance-schedule.ts';

/**
 * How often each server checks for the previous day's report. The due report comes from the
 * `compliance_reports` table, not from this process's timer, so a server restarted at any time still
 * generates it; a check that finds every tenant's report costs one query per tenant.
 */
export const complianceScheduleCheckIntervalMs = 15 * 60_000;

/** The daily compliance report, for the server's scheduler (src/server.ts), with COMPLIANCE_REPORTS_SCHEDULE_ENABLED. */
export function complianceJobs(database: DatabaseHandle, config: Config, logger: Logger): ScheduledJob[] {
  if (!config.compliance.scheduleEnabled) return [];
  const settings = complianceSettings(config);
  return [
    {
      name: 'compliance-reports',
      intervalMs: complianceScheduleCheckIntervalMs,
      run: async () => {
        const run = await runScheduledReports(database.db, settings);
        for (const { tenantId, reportId } of run.generated) {
          logger.info({ job: 'compliance-reports', tenantId, reportId }, 'daily compliance report generated');
        }
      },
    },
  ];
}
