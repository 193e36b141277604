import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config/config.ts';
import { SeedRefusedError, seedDatabase } from '../../src/db/seed/seed.ts';
import { verifyAuditChains } from '../../src/platform/audit/audit-verifier.ts';
import { rolePermissions } from '../../src/platform/auth/permissions.ts';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';

// Records of runs of `db backup`; the seed does not invent backups that do not exist on disk.
// backups and retention_archives record files on disk: a seeded row would name a file that does not exist.
// An erasure is irreversible: its two tables are written only by one (test/identity/gdpr.test.ts).
const tablesNotSeeded = new Set([
  'schema_migrations',
  'schema_migrations_lock',
  'backups',
  'retention_archives',
  'user_erasures',
  'audit_erasures',
]);

describe(`development seed (${testEngine})`, () => {
  let database: TestDatabase;
  const config = loadConfig({ NODE_ENV: 'development' });
  before(async () => {
    database = await openTestDatabase();
  });
  after(async () => database.close());

  test('refuses in production without --force and changes nothing', async () => {
    const production = { ...config, environment: 'production' as const };
    await assert.rejects(seedDatabase(database, production), SeedRefusedError);
    const tenants = await sql<{ count: number }>`select count(*)::int as count from tenants`.execute(
      database.db,
    );
    assert.equal(tenants.rows[0]?.count, 0);
  });

  test('fills every table, and a second run changes nothing', async () => {
    const result = await seedDatabase(database, config);
    assert.equal(result.seeded, true);
    assert.ok(result.credentials.some((credential) => credential.role === 'super_admin'));
    const tables = await sql<{ name: string }>`
      select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition order by 1`.execute(
      database.db,
    );
    const counts = new Map<string, number>();
    for (const { name } of tables.rows) {
      // The owner on PGlite is a superuser, on the CI server too: counts see every tenant.
      const count = await sql<{
        count: number;
      }>`select count(*)::int as count from ${sql.table(name)}`.execute(database.db);
      counts.set(name, count.rows[0]?.count ?? 0);
    }
    const empty = [...counts]
      .filter(([name, count]) => count === 0 && !tablesNotSeeded.has(name))
      .map(([name]) => name);
    assert.deepEqual(empty, [], 'tables left empty by the seed');

    const again = await seedDatabase(database, config);
    assert.equal(again.seeded, false);
    const users = await sql<{ count: number }>`select count(*)::int as count from users`.execute(database.db);
    assert.equal(users.rows[0]?.count, counts.get('users'));
  });

  test('covers every user status and KYC state', async () => {
    const statuses = await sql<{ status: number }>`select distinct status from users order by 1`.execute(
      database.db,
    );
    assert.deepEqual(
      statuses.rows.map((row) => row.status),
      [0, 1, 2],
    );
    const kyc = await sql<{ status: string }>`select distinct status from kyc_records order by 1`.execute(
      database.db,
    );
    assert.deepEqual(
      kyc.rows.map((row) => row.status),
      ['approved', 'expired', 'pending', 'rejected'],
    );
  });

  test('wallet balances agree with their ledger entries and every asset sums to zero', async () => {
    const mismatched = await sql<{ id: string }>`
      select w.id from wallets w
      left join lateral (select coalesce(sum(balance_after - balance_before), 0) as net,
                                max(entry_sequence) as last_sequence, count(*) as entries
                         from transactions t where t.tenant_id = w.tenant_id and t.wallet_id = w.id) e on true
      where w.balance <> e.net or w.entry_count <> e.entries`.execute(database.db);
    assert.deepEqual(mismatched.rows, []);
    const sums = await sql<{ asset_code: string; total: number }>`
      select asset_code, sum(balance)::bigint as total from wallets group by asset_code`.execute(database.db);
    for (const row of sums.rows) assert.equal(row.total, 0, `asset ${row.asset_code} does not sum to zero`);
    const locked = await sql<{
      locked: number;
    }>`select coalesce(sum(locked), 0)::bigint as locked from wallets`.execute(database.db);
    const holds = await sql<{ held: number }>`
      select coalesce(sum(amount), 0)::bigint as held from balance_holds where status = 'active'`.execute(
      database.db,
    );
    assert.equal(locked.rows[0]?.locked, holds.rows[0]?.held, 'locked amounts equal the active holds');
  });

  test('role_permissions mirrors the permission catalog in code, row for row', async () => {
    const rows = await sql<{ role_name: string; permission: string }>`
      select role_name, permission from role_permissions order by 1, 2`.execute(database.db);
    const expected = Object.entries(rolePermissions)
      .flatMap(([role, permissions]) => permissions.map((permission) => `${role} ${permission}`))
      .sort();
    assert.deepEqual(rows.rows.map((row) => `${row.role_name} ${row.permission}`).sort(), expected);
  });

  test('its audit rows are sealed into a chain that verifies', async () => {
    const result = await verifyAuditChains(
      database.db,
      new Map([[config.auditHmacKeyId, config.auditHmacKey]]),
    );
    assert.equal(result.problem, undefined);
    assert.ok((result.tenants[0]?.sealedRows ?? 0) > 10);
  });

  test('no PIN or password reaches the database in plain text', async () => {
    const text = JSON.stringify(
      (
        await sql`select u.pin_hash, u.password_hash, a.new_values from users u, audit_logs a`.execute(
          database.db,
        )
      ).rows,
    );
    assert.ok(!text.includes('"123456"'), 'the demo PIN is stored in clear');
    assert.ok(!text.includes('Corebank-Super-Admin-2026'), 'a demo password is stored in clear');
  });
});
