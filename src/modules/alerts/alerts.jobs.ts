import type { Logger } from 'pino';
import type { AlertConfig } from '../../config/alert-config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import type { AppMetrics } from '../../platform/metrics.ts';
import type { ScheduledJob } from '../../platform/scheduler.ts';
import { runAlertDeliveries } from './alerts.service.ts';

/** The alert job, for the server's scheduler (src/server.ts): queues critical events and sends them. */
export function alertJobs(
  database: DatabaseHandle,
  config: AlertConfig,
  logger: Logger,
  metrics: AppMetrics,
): ScheduledJob[] {
  return [
    {
      name: 'alert-deliveries',
      intervalMs: config.intervalMs,
      run: () => runAlertDeliveries({ db: database.db, config, logger, metrics }),
    },
  ];
}
