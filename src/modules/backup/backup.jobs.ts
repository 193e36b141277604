import type { Logger } from 'pino';
import type { Config } from '../../config/config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import type { ScheduledJob } from '../../platform/scheduler.ts';
import { runScheduledBackup } from './backup-schedule.ts';

/**
 * How often each server checks whether a backup is due. Far below BACKUP_INTERVAL_MS (at least a
 * minute), so a server restarted more often than the interval still backs up: the due time comes from
 * the `backups` table, not from this process's timer. A check that is not due costs one query.
 */
export const backupCheckIntervalMs = 60_000;

/**
 * The scheduled backup, for the server's scheduler (src/server.ts): with BACKUP_ENABLED, a full backup
 * to BACKUP_DIR every BACKUP_INTERVAL_MS, then backups older than BACKUP_RETENTION_DAYS are deleted.
 * Several servers may run it: runScheduledBackup lets one of them take each backup.
 */
export function backupJobs(database: DatabaseHandle, config: Config, logger: Logger): ScheduledJob[] {
  if (!config.backup.enabled) return [];
  const options = {
    directory: config.backupDirectory,
    intervalMs: config.backup.intervalMs,
    retentionDays: config.backupRetentionDays,
    keys: config.backup.keys,
  };
  return [
    {
      name: 'backup',
      intervalMs: Math.min(backupCheckIntervalMs, config.backup.intervalMs),
      run: async () => {
        const result = await runScheduledBackup(database, options);
        if (result.status !== 'written') {
          logger.debug({ job: 'backup', status: result.status }, 'scheduled backup skipped');
          return;
        }
        const { backup, pruned } = result;
        logger.info(
          {
            job: 'backup',
            file: backup.path,
            sizeBytes: backup.manifest.size_bytes,
            encrypted: backup.manifest.encryption !== null,
            pruned: pruned.map((listing) => listing.file),
          },
          'scheduled backup written',
        );
      },
    },
  ];
}
