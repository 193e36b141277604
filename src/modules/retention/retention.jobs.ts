import type { Logger } from 'pino';
import type { Config } from '../../config/config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import type { ScheduledJob } from '../../platform/scheduler.ts';
import { heldUsersForRetention } from './retention-holds.ts';
import { runRetention } from './retention-run.ts';

/**
 * The scheduled retention run (src/server.ts), every RETENTION_INTERVAL_MS (0: off). Several servers
 * may run it at once: each table is cleaned under a transaction-level advisory lock, and a server that
 * finds a table locked skips it (`busy`), so nothing is archived or deleted twice.
 */
export function retentionJobs(database: DatabaseHandle, config: Config, logger: Logger): ScheduledJob[] {
  const { intervalMs, archiveDirectory } = config.retention;
  if (intervalMs === 0) return [];
  return [
    {
      name: 'retention',
      intervalMs,
      run: async () => {
        const result = await runRetention(database.db, {
          dryRun: false,
          archiveDirectory,
          keys: config.backup.keys,
          heldUserIds: heldUsersForRetention,
        });
        for (const table of result.tables) {
          const { rowsArchived, rowsDeleted, rowsKept, partitionsDropped, files, status } = table;
          if (status === 'done' && rowsArchived + rowsDeleted === 0 && partitionsDropped.length === 0)
            continue;
          logger.info(
            {
              job: 'retention',
              table: table.table,
              status,
              rowsArchived,
              rowsDeleted,
              rowsKept,
              partitionsDropped,
              files,
            },
            `retention: ${table.table} ${status}${table.message ? ` (${table.message})` : ''}`,
          );
        }
      },
    },
  ];
}
