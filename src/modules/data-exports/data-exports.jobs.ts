import type { Config } from '../../config/config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import type { ScheduledJob } from '../../platform/scheduler.ts';
import { produceDataExports } from './data-exports.service.ts';

/** How often each server looks for requested data exports (and drops expired archives). */
const dataExportIntervalMs = 5_000;

export function dataExportJobs(database: DatabaseHandle, config: Config): ScheduledJob[] {
  return [
    {
      name: 'data-exports',
      intervalMs: dataExportIntervalMs,
      run: () => produceDataExports({ database, config }),
    },
  ];
}
