import type { Logger } from 'pino';
import type { Config } from '../../config/config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import type { ScheduledJob } from '../scheduler.ts';
import { writeAuditCheckpoints } from './audit-checkpoint.ts';

/**
 * The periodic audit checkpoint, for the server's scheduler (src/server.ts): every
 * AUDIT_CHECKPOINT_INTERVAL_MS, one signed checkpoint per tenant whose chain head moved. Several
 * servers may run it at once: files are created under exclusive names, so they write one each.
 */
export function auditCheckpointJobs(
  database: DatabaseHandle,
  config: Config,
  logger: Logger,
): ScheduledJob[] {
  const { intervalMs, directory, keyName, signingKey, publicKeys } = config.auditCheckpoint;
  if (intervalMs === 0 || !signingKey) return [];
  const keys = { keyName, signingKey, publicKeys };
  return [
    {
      name: 'audit-checkpoint',
      intervalMs,
      run: async () => {
        const result = await writeAuditCheckpoints(database.db, directory, keys);
        for (const problem of result.refused) {
          // A checkpoint contradicted by the database is evidence of tampering: never signed over, always loud.
          const { fileName, tenantId, chainSequence, kind, message } = problem;
          logger.error(
            { job: 'audit-checkpoint', fileName, tenantId, chainSequence, kind },
            `audit checkpoint refused: ${message}`,
          );
        }
        if (result.written.length > 0) {
          logger.info(
            { job: 'audit-checkpoint', written: result.written.length, directory },
            'audit checkpoints written',
          );
        }
      },
    },
  ];
}
