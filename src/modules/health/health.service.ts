import type { FastifyBaseLogger } from 'fastify';
import type { DatabaseHandle } from '../../db/database.ts';
import { readMigrationStatus } from '../../db/migrator.ts';
import { AppError } from '../../platform/errors.ts';
import { pingDatabase } from './health.repository.ts';
import type { Readiness } from './health.schemas.ts';

/** A readiness probe that hangs is worse than one that fails: the orchestrator's own timeout is short. */
export const readinessCheckTimeoutMs = 2000;

class CheckTimeoutError extends Error {}

async function withTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new CheckTimeoutError()), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function failureReason(error: unknown): string {
  // A timeout says what happened; a driver message could name hosts or users, so it stays in the log.
  return error instanceof CheckTimeoutError
    ? `no answer within ${readinessCheckTimeoutMs} ms`
    : 'query failed';
}

/**
 * Runs both checks within one time budget; the 503 says which check failed so an operator knows where
 * to look, and the log keeps the driver's own error.
 */
export async function checkReadiness(database: DatabaseHandle, log: FastifyBaseLogger): Promise<Readiness> {
  const deadline = Date.now() + readinessCheckTimeoutMs;
  const remainingMs = () => Math.max(1, deadline - Date.now());
  try {
    await withTimeout(pingDatabase(database), remainingMs());
  } catch (error) {
    log.warn({ err: error }, 'readiness: database check failed');
    throw new AppError('SERVICE_UNAVAILABLE', 'The database is not reachable.', [
      { field: 'database', reason: failureReason(error) },
    ]);
  }
  let pending: string[];
  let applied: number;
  try {
    const status = await withTimeout(readMigrationStatus(database.db), remainingMs());
    pending = status.pending;
    applied = status.applied.length;
  } catch (error) {
    log.warn({ err: error }, 'readiness: migration check failed');
    throw new AppError('SERVICE_UNAVAILABLE', 'The migration status is unknown.', [
      { field: 'migrations', reason: failureReason(error) },
    ]);
  }
  if (pending.length > 0) {
    const reason = `${pending.length} pending: ${pending.slice(0, 10).join(', ')}`;
    throw new AppError('SERVICE_UNAVAILABLE', 'The database schema is not up to date.', [
      { field: 'migrations', reason },
    ]);
  }
  return { status: 'ready', engine: database.engine, migrations: { applied, pending: 0 } };
}
