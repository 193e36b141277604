import { type Kysely, sql } from 'kysely';

/**
 * Runs a migration's statements one at a time: the embedded engine's extended query protocol takes a
 * single statement per call, and one statement per entry keeps a failure's message pointing at it.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are typed against no schema.
export async function runStatements(db: Kysely<any>, statements: readonly string[]): Promise<void> {
  for (const statement of statements) {
    await sql.raw(statement).execute(db);
  }
}
