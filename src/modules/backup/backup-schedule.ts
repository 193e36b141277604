import type { BackupKeys } from '../../config/backup-config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import { hasFullBackupSince, tryLockBackupSchedule, unlockBackupSchedule } from './backup.repository.ts';
import { type BackupResult, createBackup } from './backup.service.ts';
import { type BackupListing, pruneBackups } from './backup-files.ts';

export interface ScheduledBackupOptions {
  directory: string;
  intervalMs: number;
  retentionDays: number;
  keys: BackupKeys;
}

export type ScheduledBackupResult =
  | { status: 'written'; backup: BackupResult; pruned: BackupListing[] }
  /** Another process holds the schedule's lock: it is taking the backup now. */
  | { status: 'busy' }
  /** A full backup was recorded less than an interval ago (by this or another process). */
  | { status: 'recent' };

/**
 * One scheduled check: when no process recorded a full backup in the last interval, a full backup, then
 * the retention prune. Every server checks often (backupJobs), so the schedule follows the `backups`
 * table and survives restarts; the check takes a session advisory lock first (one process at a time),
 * so several servers together take one backup per interval, not one each. The lock is held on one
 * connection, which the backup itself uses (the embedded engine has only one).
 */
export async function runScheduledBackup(
  handle: DatabaseHandle,
  options: ScheduledBackupOptions,
): Promise<ScheduledBackupResult> {
  return handle.db.connection().execute(async (connection) => {
    if (!(await tryLockBackupSchedule(connection))) return { status: 'busy' };
    try {
      if (await hasFullBackupSince(connection, options.intervalMs)) return { status: 'recent' };
      const backup = await createBackup(
        { ...handle, db: connection },
        { mode: 'full', outDirectory: options.directory, keys: options.keys },
      );
      const pruned = await pruneBackups(options.directory, options.retentionDays);
      return { status: 'written', backup, pruned };
    } finally {
      await unlockBackupSchedule(connection);
    }
  });
}
