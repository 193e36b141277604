import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { NewBankAccount, NewDeviceSession, NewUser } from '../../src/db/schema.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { reserveCounter } from '../../src/modules/identity/security-counters.repository.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';

/*
 * Row-level security by behaviour: the application role (withScope) sees and writes only its
 * tenant's rows, and with a user in scope only that user's private rows. The fixtures are written by
 * the owner, a superuser on both test engines, to whom RLS does not apply.
 */

let handle: TestDatabase;
let tenantA: string;
let tenantB: string;
let userA1: string;
let userA2: string;
let userB1: string;

function customer(tenantId: string, name: string, phone: string): NewUser {
  return { tenant_id: tenantId, name, phone, pin_hash: 'argon2id$test-only-hash' };
}

function session(tenantId: string, userId: string): NewDeviceSession {
  const inOneHour = new Date(Date.now() + 3_600_000);
  return {
    tenant_id: tenantId,
    user_id: userId,
    device_type: 'android',
    provider: 'email',
    expires_at: inOneHour,
    absolute_expires_at: inOneHour,
  };
}

function bankAccount(tenantId: string, userId: string, accountNumber: string): NewBankAccount {
  // Each fixture user has one active account, which must then be the primary one (0007_money).
  return {
    tenant_id: tenantId,
    user_id: userId,
    account_number: accountNumber,
    account_name: 'Test Holder',
    is_primary: true,
  };
}

before(async () => {
  handle = await openTestDatabase();
  const db = handle.db;
  const tenants = await db
    .insertInto('tenants')
    .values([
      { slug: 'rls-a', name: 'Tenant A' },
      { slug: 'rls-b', name: 'Tenant B' },
    ])
    .returning(['id', 'slug'])
    .execute();
  tenantA = tenants.find((tenant) => tenant.slug === 'rls-a')!.id;
  tenantB = tenants.find((tenant) => tenant.slug === 'rls-b')!.id;

  const insertUser = async (user: NewUser) =>
    (await db.insertInto('users').values(user).returning('id').executeTakeFirstOrThrow()).id;
  userA1 = await insertUser(customer(tenantA, 'Alice A', '081200000001'));
  userA2 = await insertUser(customer(tenantA, 'Andi A', '081200000002'));
  userB1 = await insertUser(customer(tenantB, 'Budi B', '081200000003'));

  await db
    .insertInto('device_sessions')
    .values([session(tenantA, userA1), session(tenantA, userA2), session(tenantB, userB1)])
    .execute();
  await db
    .insertInto('bank_accounts')
    .values([
      bankAccount(tenantA, userA1, '1000000001'),
      bankAccount(tenantA, userA2, '1000000002'),
      bankAccount(tenantB, userB1, '1000000003'),
    ])
    .execute();
});

after(async () => {
  await handle?.close();
});

describe('tenant isolation', () => {
  test('a select with no WHERE sees only the scoped tenant’s users', async () => {
    const ids = await withScope(handle.db, { tenantId: tenantA }, (transaction) =>
      transaction.selectFrom('users').select('id').orderBy('id').execute(),
    );
    assert.deepEqual(ids.map((row) => row.id).sort(), [userA1, userA2].sort());

    const idsB = await withScope(handle.db, { tenantId: tenantB }, (transaction) =>
      transaction.selectFrom('users').select('id').execute(),
    );
    assert.deepEqual(
      idsB.map((row) => row.id),
      [userB1],
    );
  });

  test('inserting a row for another tenant is refused by the WITH CHECK of tenant_isolation', async () => {
    await assert.rejects(
      withScope(handle.db, { tenantId: tenantA }, (transaction) =>
        transaction
          .insertInto('users')
          .values(customer(tenantB, 'Intruder', '081200000009'))
          .execute(),
      ),
      /row-level security/,
    );
    const intruders = await handle.db
      .selectFrom('users')
      .select('id')
      .where('name', '=', 'Intruder')
      .execute();
    assert.equal(intruders.length, 0);
  });

  test('updating or deleting another tenant’s user by id affects no row', async () => {
    const { updated, deleted } = await withScope(handle.db, { tenantId: tenantA }, async (transaction) => ({
      updated: await transaction
        .updateTable('users')
        .set({ name: 'Renamed' })
        .where('id', '=', userB1)
        .executeTakeFirst(),
      deleted: await transaction.deleteFrom('bank_accounts').where('user_id', '=', userB1).executeTakeFirst(),
    }));
    assert.equal(updated.numUpdatedRows, 0n);
    assert.equal(deleted.numDeletedRows, 0n);

    const userB = await handle.db
      .selectFrom('users')
      .select('name')
      .where('id', '=', userB1)
      .executeTakeFirstOrThrow();
    assert.equal(userB.name, 'Budi B');
    const accountsB = await handle.db
      .selectFrom('bank_accounts')
      .select('id')
      .where('user_id', '=', userB1)
      .execute();
    assert.equal(accountsB.length, 1);
  });

  test('a row cannot be moved to another tenant by an update', async () => {
    await assert.rejects(
      withScope(handle.db, { tenantId: tenantA }, (transaction) =>
        transaction
          .updateTable('bank_accounts')
          .set({ tenant_id: tenantB })
          .where('user_id', '=', userA2)
          .execute(),
      ),
      /row-level security|violates foreign key/,
    );
  });
});

describe('security controls tables (0008)', () => {
  const subjectHash = 'a'.repeat(64);
  const limit = { max: 2, windowSeconds: 900 };

  test("security counters are per tenant: tenant B neither sees nor uses tenant A's counter", async () => {
    const key = (tenantId: string) => ({ tenantId, scope: 'sms_phone' as const, subjectHash });
    const a = await withScope(handle.db, { tenantId: tenantA }, async (transaction) => [
      await reserveCounter(transaction, key(tenantA), limit),
      await reserveCounter(transaction, key(tenantA), limit),
      await reserveCounter(transaction, key(tenantA), limit),
    ]);
    assert.deepEqual(
      a.map((reservation) => reservation.granted),
      [true, true, false],
    );
    const b = await withScope(handle.db, { tenantId: tenantB }, async (transaction) => ({
      visible: await transaction.selectFrom('security_counters').select('tenant_id').execute(),
      reservation: await reserveCounter(transaction, key(tenantB), limit),
    }));
    assert.deepEqual(b.visible, []);
    assert.equal(b.reservation.granted && b.reservation.count, 1);
    await assert.rejects(
      withScope(handle.db, { tenantId: tenantB }, (transaction) =>
        reserveCounter(transaction, key(tenantA), limit),
      ),
      /row-level security/,
    );
  });

  test('top-up approvals are per tenant, and the checker can never be the maker', async () => {
    const approval = (tenantId: string, makerId: string, beneficiaryId: string) => ({
      tenant_id: tenantId,
      beneficiary_id: beneficiaryId,
      asset_code: 'IDR',
      amount: 1_000,
      maker_id: makerId,
    });
    await assert.rejects(
      withScope(handle.db, { tenantId: tenantA }, (transaction) =>
        transaction
          .insertInto('topup_approvals')
          .values(approval(tenantB, userB1, userB1))
          .execute(),
      ),
      /row-level security/,
    );
    const created = await withScope(handle.db, { tenantId: tenantA }, (transaction) =>
      transaction
        .insertInto('topup_approvals')
        .values(approval(tenantA, userA2, userA1))
        .returning('id')
        .executeTakeFirstOrThrow(),
    );
    const fromB = await withScope(handle.db, { tenantId: tenantB }, (transaction) =>
      transaction.selectFrom('topup_approvals').select('id').execute(),
    );
    assert.deepEqual(fromB, []);
    await assert.rejects(
      withScope(handle.db, { tenantId: tenantA }, (transaction) =>
        transaction
          .updateTable('topup_approvals')
          .set({ status: 'rejected', checker_id: userA2, decided_at: new Date(), rejection_reason: 'self' })
          .where('id', '=', created.id)
          .execute(),
      ),
      /check constraint/,
    );
  });
});

describe('user isolation', () => {
  test('with a user in scope, device sessions, bank accounts and users show only that user’s rows', async () => {
    const visible = await withScope(
      handle.db,
      { tenantId: tenantA, userId: userA1 },
      async (transaction) => ({
        sessions: await transaction.selectFrom('device_sessions').select('user_id').execute(),
        accounts: await transaction.selectFrom('bank_accounts').select('user_id').execute(),
        users: await transaction.selectFrom('users').select('id').execute(),
      }),
    );
    assert.deepEqual(
      visible.sessions.map((row) => row.user_id),
      [userA1],
    );
    assert.deepEqual(
      visible.accounts.map((row) => row.user_id),
      [userA1],
    );
    assert.deepEqual(
      visible.users.map((row) => row.id),
      [userA1],
    );
  });

  test('without a user in scope, staff see every user’s private rows of the tenant', async () => {
    const sessions = await withScope(handle.db, { tenantId: tenantA }, (transaction) =>
      transaction.selectFrom('device_sessions').select('user_id').execute(),
    );
    assert.deepEqual(sessions.map((row) => row.user_id).sort(), [userA1, userA2].sort());
  });

  test('a customer cannot write a private row for another customer of the same tenant', async () => {
    await assert.rejects(
      withScope(handle.db, { tenantId: tenantA, userId: userA1 }, (transaction) =>
        transaction
          .insertInto('bank_accounts')
          .values(bankAccount(tenantA, userA2, '1000000099'))
          .execute(),
      ),
      /row-level security/,
    );
    const updated = await withScope(handle.db, { tenantId: tenantA, userId: userA1 }, (transaction) =>
      transaction
        .updateTable('bank_accounts')
        .set({ bank_name: 'Hijacked' })
        .where('user_id', '=', userA2)
        .executeTakeFirst(),
    );
    assert.equal(updated.numUpdatedRows, 0n);
  });
});

describe('no tenant in scope', () => {
  test('the application role sees no row at all', async () => {
    const counts = await handle.db.transaction().execute(async (transaction) => {
      await sql`select set_config('role', 'corebank_app', true)`.execute(transaction);
      const count = async (table: 'users' | 'device_sessions' | 'bank_accounts') =>
        Number(
          (
            await transaction
              .selectFrom(table)
              .select((eb) => eb.fn.countAll().as('rows'))
              .executeTakeFirstOrThrow()
          ).rows,
        );
      return {
        users: await count('users'),
        device_sessions: await count('device_sessions'),
        bank_accounts: await count('bank_accounts'),
      };
    });
    assert.deepEqual(counts, { users: 0, device_sessions: 0, bank_accounts: 0 });
  });

  test('an empty tenant setting is no tenant, not a wildcard', async () => {
    const users = await handle.db.transaction().execute(async (transaction) => {
      await sql`select set_config('app.tenant_id', '', true), set_config('role', 'corebank_app', true)`.execute(
        transaction,
      );
      return transaction.selectFrom('users').select('id').execute();
    });
    assert.equal(users.length, 0);
  });
});
