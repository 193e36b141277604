import type { ScheduledJob } from '../../platform/scheduler.ts';

/** The detection sweep for the server's scheduler (src/server.ts): every rule over the recent window. */
export function detectionJobs(app: {
  config: { security: { detection: { enabled: boolean; sweepIntervalMs: number } } };
  detection: { sweep(): Promise<number> };
}): ScheduledJob[] {
  const detection = app.config.security.detection;
  if (!detection.enabled) return [];
  return [
    { name: 'detection-sweep', intervalMs: detection.sweepIntervalMs, run: () => app.detection.sweep() },
  ];
}
