import type { Logger } from 'pino';
import { databaseUnavailable, databaseUnavailableLogFields } from '../db/database-errors.ts';

export interface ScheduledJob {
  name: string;
  intervalMs: number;
  run: () => Promise<unknown>;
}

export interface Scheduler {
  /** Stops new runs and waits for the runs under way to finish. */
  stop(): Promise<void>;
}

/**
 * A database outage fails every job at every tick until it ends: an operating condition logged with its
 * SQLSTATE or errno, not a bug with a stack. The job runs again at the next tick either way.
 */
function logFailure(logger: Logger, job: string, error: unknown): void {
  const unavailable = databaseUnavailable(error);
  if (unavailable) {
    logger.warn(
      { job, database: databaseUnavailableLogFields(unavailable) },
      'scheduled job failed: database unavailable',
    );
  } else {
    logger.error({ err: error, job }, 'scheduled job failed');
  }
}

/**
 * Runs each job every intervalMs, never two runs of one job at once (a slow run delays the next
 * instead of piling up). A failing run is logged and retried at the next tick; it never crashes the
 * server. Timers are unref'd so they do not keep a finished process alive.
 */
export function startScheduler(jobs: readonly ScheduledJob[], logger: Logger): Scheduler {
  const running = new Set<Promise<void>>();
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;
  for (const job of jobs) {
    let busy = false;
    const tick = () => {
      if (busy || stopped) return;
      busy = true;
      const run = job
        .run()
        .then(
          () => undefined,
          (error: unknown) => logFailure(logger, job.name, error),
        )
        .finally(() => {
          busy = false;
          running.delete(run);
        });
      running.add(run);
    };
    const timer = setInterval(tick, job.intervalMs);
    timer.unref();
    timers.push(timer);
  }
  return {
    stop: async () => {
      stopped = true;
      for (const timer of timers) clearInterval(timer);
      await Promise.all(running);
    },
  };
}
