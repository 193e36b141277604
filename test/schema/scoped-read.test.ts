import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { readInScope } from '../../src/db/tenant-transaction.ts';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';
import { createCustomer, createTenant, type TestCustomer } from '../money/money-fixtures.ts';

/**
 * readInScope (issue 8 item 5) runs a read in one round trip on a PostgreSQL server; row-level
 * security must be exactly as strict as under withScope: the application role, the tenant and user
 * settings, transaction-local, on both engines.
 */

let handle: TestDatabase;
let tenantA: string;
let tenantB: string;
let customerA1: TestCustomer;
let customerA2: TestCustomer;

before(async () => {
  handle = await openTestDatabase();
  tenantA = await createTenant(handle.db);
  tenantB = await createTenant(handle.db);
  customerA1 = await createCustomer(handle.db, tenantA);
  customerA2 = await createCustomer(handle.db, tenantA);
  await createCustomer(handle.db, tenantB);
});
after(async () => {
  await handle.close();
});

const settings = () =>
  sql<{ role: string; tenant: string; user_id: string; read_only: string }>`
    select current_user as role, current_setting('app.tenant_id', true) as tenant,
           current_setting('app.user_id', true) as user_id, current_setting('transaction_read_only') as read_only`.compile(
    handle.db,
  );

describe(`readInScope (${testEngine})`, () => {
  test('runs as the application role with the scope settings, read only on the server', async () => {
    const [row] = await readInScope(handle, { tenantId: tenantA, userId: customerA1.userId }, settings());
    assert.equal(row?.role, 'corebank_app');
    assert.equal(row?.tenant, tenantA);
    assert.equal(row?.user_id, customerA1.userId);
    if (testEngine === 'postgres') assert.equal(row?.read_only, 'on');
    const [staff] = await readInScope(handle, { tenantId: tenantB }, settings());
    assert.equal(staff?.tenant, tenantB);
    assert.equal(staff?.user_id, '');
  });

  test('a query without a tenant filter sees only its tenant, and with a user only that user', async () => {
    const wallets = () =>
      handle.db
        .selectFrom('wallets')
        .select(['tenant_id', 'user_id'])
        .where('kind', '=', 'customer')
        .compile();
    const tenantRows = await readInScope(handle, { tenantId: tenantA }, wallets());
    assert.deepEqual(new Set(tenantRows.map((row) => row.tenant_id)), new Set([tenantA]));
    assert.equal(tenantRows.length, 2);
    const users = () => handle.db.selectFrom('users').select('id').compile();
    const own = await readInScope(handle, { tenantId: tenantA, userId: customerA2.userId }, users());
    assert.deepEqual(
      own.map((row) => row.id),
      [customerA2.userId],
    );
  });

  test('the settings do not outlive the read: the next statement on the pool has no tenant', async () => {
    await readInScope(handle, { tenantId: tenantA, userId: customerA1.userId }, settings());
    for (let index = 0; index < 5; index += 1) {
      const { rows } = await sql<{ tenant: string | null; role: string }>`
        select current_setting('app.tenant_id', true) as tenant, current_user as role`.execute(handle.db);
      assert.ok(!rows[0]?.tenant, 'no tenant outside a scope');
      assert.notEqual(rows[0]?.role, 'corebank_app');
    }
  });

  test('a failing read is rolled back: the connection serves the next read, with its own scope', async () => {
    const failing = sql<{ x: number }>`select 1 / (count(*) - count(*))::int as x from wallets`.compile(
      handle.db,
    );
    await assert.rejects(readInScope(handle, { tenantId: tenantA }, failing), /division by zero/);
    const [row] = await readInScope(handle, { tenantId: tenantB }, settings());
    assert.equal(row?.tenant, tenantB);
  });

  test('quotes, backslashes and injection attempts in parameters stay values', async () => {
    for (const name of ["O'Brien'; drop table wallets; --", 'back\\slash \\', "$1 $$ E'x'"]) {
      const query = handle.db.selectFrom('users').select('id').where('name', '=', name).compile();
      assert.deepEqual(await readInScope(handle, { tenantId: tenantA }, query), []);
    }
    const wallets = handle.db.selectFrom('wallets').select('id').compile();
    assert.equal(
      (await readInScope(handle, { tenantId: tenantA }, wallets)).length,
      2,
      'wallets still there',
    );
  });

  test('a scope that is not a canonical uuid is refused before anything is sent', async () => {
    if (testEngine !== 'postgres') return;
    await assert.rejects(
      readInScope(handle, { tenantId: "x', true); select 1; --" }, settings()),
      assert.AssertionError,
    );
    await assert.rejects(
      readInScope(handle, { tenantId: tenantA, userId: 'A'.repeat(36) }, settings()),
      assert.AssertionError,
    );
  });
});
