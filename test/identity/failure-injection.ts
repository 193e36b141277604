import { sql } from 'kysely';
import type { DatabaseHandle } from '../../src/db/database.ts';

/**
 * Makes every insert into one table fail, the way a later step of a request fails in production (a
 * value PostgreSQL refuses, a constraint, a dropped connection): a trigger the owner installs in this
 * test's own database copy. The application code is not told; it meets a real database error.
 */
export async function failInsertsInto(database: DatabaseHandle, table: string): Promise<void> {
  await sql
    .raw(
      `create or replace function corebank_test_fail_insert() returns trigger language plpgsql as $$
       begin
         raise exception 'injected failure: % refuses inserts', tg_table_name;
       end $$`,
    )
    .execute(database.db);
  await sql
    .raw(
      `create trigger corebank_test_fail_insert before insert on ${table}
         for each row execute function corebank_test_fail_insert()`,
    )
    .execute(database.db);
}

export async function restoreInsertsInto(database: DatabaseHandle, table: string): Promise<void> {
  await sql.raw(`drop trigger if exists corebank_test_fail_insert on ${table}`).execute(database.db);
}

/** Runs `work` while inserts into `table` fail, and always restores the table. */
export async function whileInsertsFail<T>(
  database: DatabaseHandle,
  table: string,
  work: () => Promise<T>,
): Promise<T> {
  await failInsertsInto(database, table);
  try {
    return await work();
  } finally {
    await restoreInsertsInto(database, table);
  }
}
