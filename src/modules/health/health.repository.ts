import { sql } from 'kysely';
import type { DatabaseHandle } from '../../db/database.ts';

/** The cheapest statement that proves the database answers: no table, no lock. */
export async function pingDatabase(database: DatabaseHandle): Promise<void> {
  await sql`select 1`.execute(database.db);
}
