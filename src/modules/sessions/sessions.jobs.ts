import type { DatabaseHandle } from '../../db/database.ts';
import type { ScheduledJob } from '../../platform/scheduler.ts';
import { cleanupExpiredSessions } from './sessions.service.ts';

/** How often expired sessions, OTP sessions, verification tokens and ended security counters are cleaned up. */
export const sessionCleanupIntervalMs = 5 * 60_000;

/** The identity module's background jobs, for the server's scheduler (src/server.ts). */
export function identityJobs(database: DatabaseHandle): ScheduledJob[] {
  return [
    {
      name: 'session-cleanup',
      intervalMs: sessionCleanupIntervalMs,
      run: () => cleanupExpiredSessions(database.db),
    },
  ];
}
