import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { migrations } from '../../src/db/migrations/index.ts';
import { migrateToLatest, readMigrationStatus, rollback } from '../../src/db/migrator.ts';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';

async function publicTables(database: TestDatabase): Promise<string[]> {
  const result = await sql<{ name: string }>`
    select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition order by 1`.execute(
    database.db,
  );
  return result.rows.map((row) => row.name);
}

describe(`migrations (${testEngine})`, () => {
  let database: TestDatabase;
  before(async () => {
    database = await openTestDatabase();
  });
  after(async () => database.close());

  test('a migrated database has every migration applied and nothing pending', async () => {
    const status = await readMigrationStatus(database.db);
    assert.deepEqual(status.pending, []);
    assert.deepEqual(
      status.applied.map((migration) => migration.name),
      Object.keys(migrations),
    );
    assert.deepEqual(await migrateToLatest(database.db), [], 'migrating again applies nothing');
  });

  test('rollback --steps 1 undoes exactly the newest migration, and migrate re-applies it', async () => {
    const names = Object.keys(migrations);
    const newest = names.at(-1);
    assert.deepEqual(await rollback(database.db, 1), [newest]);
    assert.deepEqual((await readMigrationStatus(database.db)).pending, [newest]);
    assert.deepEqual(await migrateToLatest(database.db), [newest]);
  });

  test('migrate → rollback all → migrate gives back the same schema', async () => {
    const before = await publicTables(database);
    const rolledBack = await rollback(database.db, 'all');
    assert.equal(rolledBack.length, Object.keys(migrations).length);
    assert.deepEqual(
      (await publicTables(database)).filter((name) => !name.startsWith('schema_migrations')),
      [],
      'rolling back everything leaves no Corebank table',
    );
    await migrateToLatest(database.db);
    assert.deepEqual(await publicTables(database), before);
  });

  test('concurrent migrators take turns under the lock', { skip: testEngine !== 'postgres' }, async () => {
    await rollback(database.db, 2);
    const [first, second] = await Promise.all([migrateToLatest(database.db), migrateToLatest(database.db)]);
    assert.equal(first.length + second.length, 2, 'each pending migration is applied exactly once');
    assert.deepEqual((await readMigrationStatus(database.db)).pending, []);
  });
});
