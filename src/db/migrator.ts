import { type Migration, type MigrationResultSet, Migrator, NO_MIGRATIONS } from 'kysely/migration';
import { migrations } from './migrations/index.ts';
import type { MigrationDatabase as AnyDatabase } from './migrations/run-statements.ts';

export const migrationTableName = 'schema_migrations';
export const migrationLockTableName = 'schema_migrations_lock';

export function createMigrator(db: AnyDatabase): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations as Record<string, Migration> },
    migrationTableName,
    migrationLockTableName,
  });
}

export interface MigrationStatus {
  applied: { name: string; executedAt: Date }[];
  pending: string[];
}

export async function readMigrationStatus(db: AnyDatabase): Promise<MigrationStatus> {
  const all = await createMigrator(db).getMigrations();
  return {
    applied: all.filter((m) => m.executedAt).map((m) => ({ name: m.name, executedAt: m.executedAt as Date })),
    pending: all.filter((m) => !m.executedAt).map((m) => m.name),
  };
}

export class MigrationFailedError extends Error {
  constructor(
    readonly migrationName: string | undefined,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`Migration ${migrationName ?? '(none)'} failed: ${reason}`);
    this.name = 'MigrationFailedError';
  }
}

function unwrap(resultSet: MigrationResultSet): string[] {
  if (resultSet.error) {
    const failed = resultSet.results?.find((result) => result.status === 'Error');
    throw new MigrationFailedError(failed?.migrationName, resultSet.error);
  }
  return (resultSet.results ?? []).map((result) => result.migrationName);
}

/** Applies every pending migration in one transaction, under the migrator's advisory lock. */
export async function migrateToLatest(db: AnyDatabase): Promise<string[]> {
  return unwrap(await createMigrator(db).migrateToLatest());
}

/** Rolls back `steps` migrations (newest first), or all of them. */
export async function rollback(db: AnyDatabase, steps: number | 'all'): Promise<string[]> {
  const migrator = createMigrator(db);
  if (steps === 'all') return unwrap(await migrator.migrateTo(NO_MIGRATIONS));
  const rolledBack: string[] = [];
  for (let step = 0; step < steps; step += 1) {
    const names = unwrap(await migrator.migrateDown());
    if (names.length === 0) break;
    rolledBack.push(...names);
  }
  return rolledBack;
}
