import { type Kysely, sql } from 'kysely';

/** Migrations are frozen in time and typed against no schema. */
// biome-ignore lint/suspicious/noExplicitAny: a migration sees the database as it was, not as schema.ts says.
export type MigrationDatabase = Kysely<any>;

/**
 * Runs a migration's statements one at a time: the embedded engine's extended query protocol takes a
 * single statement per call, and one statement per entry keeps a failure's message pointing at it.
 */
export async function runStatements(db: MigrationDatabase, statements: readonly string[]): Promise<void> {
  for (const statement of statements) {
    await sql.raw(statement).execute(db);
  }
}

/** A migration made of SQL statements: `up` applies them in order, `down` undoes them. */
export function statementMigration(up: readonly string[], down: readonly string[]) {
  return {
    up: (db: MigrationDatabase) => runStatements(db, up),
    down: (db: MigrationDatabase) => runStatements(db, down),
  };
}
