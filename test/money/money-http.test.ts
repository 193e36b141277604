import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { expireKycRecords } from '../../src/modules/kyc/kyc.service.ts';
import { checkLedger } from '../../src/modules/ledger/ledger-check.ts';
import { createSimulatedBank } from '../../src/modules/payouts/payout-provider.ts';
import { runPayoutWorker } from '../../src/modules/payouts/payout-worker.ts';
import { bearer, type LoggedInCustomer, loginCustomer, loginStaff } from '../helpers/auth.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';

const config = loadConfig({ NODE_ENV: 'test' });

let database: TestDatabase;
let app: AppInstance;

before(async () => {
  database = await openTestDatabase();
  app = await buildApp({ config, database, logger: false });
  await app.ready();
});

after(async () => {
  await app.close();
  await database.close();
});

interface ErrorBody {
  error: { code: string; details?: { field?: string; reason: string }[] };
}

async function post(who: { accessToken: string }, url: string, payload: unknown, key?: string) {
  return app.inject({
    method: 'POST',
    url,
    headers: { ...bearer(who), ...(key ? { 'idempotency-key': key } : {}) },
    payload: payload as Record<string, unknown>,
  });
}

async function get(who: { accessToken: string }, url: string) {
  return app.inject({ method: 'GET', url, headers: bearer(who) });
}

async function fundedCustomer(amount: number): Promise<LoggedInCustomer> {
  const customer = await loginCustomer(app);
  const response = await post(customer, '/v1/transactions/topup', { amount });
  assert.equal(response.statusCode, 201, response.body);
  return customer;
}

async function assertLedgerClean(): Promise<void> {
  const result = await checkLedger(database.db);
  assert.equal(result.problem, undefined, JSON.stringify(result.problem));
}

describe('money over HTTP', () => {
  test('top-up, transfer, balances and a statement with keyset pagination and filters', async () => {
    const alice = await fundedCustomer(100_000);
    const bob = await loginCustomer(app);
    for (let index = 0; index < 5; index += 1) {
      const response = await post(
        alice,
        '/v1/transactions/transfer',
        { to_account_number: bob.accountNumber, amount: 1_000 + index },
        `t-${index}`,
      );
      assert.equal(response.statusCode, 201, response.body);
    }
    const balances = await get(alice, '/v1/me/balances');
    assert.equal(balances.statusCode, 200);
    const idr = (
      balances.json() as { balances: { asset: string; balance: number; locked: number; available: number }[] }
    ).balances.find((wallet) => wallet.asset === 'IDR');
    assert.deepEqual(idr && { balance: idr.balance, locked: idr.locked, available: idr.available }, {
      balance: 100_000 - 5_010,
      locked: 0,
      available: 100_000 - 5_010,
    });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/v1/transactions?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await get(alice, url);
      assert.equal(page.statusCode, 200, page.body);
      const body = page.json() as {
        transactions: { id: string; type: string; balance_after: number }[];
        next_cursor: string | null;
      };
      assert.ok(body.transactions.length <= 2);
      seen.push(...body.transactions.map((entry) => entry.id));
      cursor = body.next_cursor;
    } while (cursor);
    assert.equal(seen.length, 6);
    assert.equal(new Set(seen).size, 6);

    const outgoing = await get(alice, '/v1/transactions?type=transfer_out&limit=100');
    assert.equal((outgoing.json() as { transactions: unknown[] }).transactions.length, 5);
    const future = await get(
      alice,
      `/v1/transactions?from=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`,
    );
    assert.equal((future.json() as { transactions: unknown[] }).transactions.length, 0);
    const bobs = await get(bob, '/v1/transactions?type=transfer_in&asset=IDR');
    assert.equal((bobs.json() as { transactions: unknown[] }).transactions.length, 5);
    await assertLedgerClean();
  });

  test('amounts that are zero, negative, fractional, text, above 2^53−1 or above the asset maximum are 400 naming body.amount', async () => {
    const alice = await loginCustomer(app);
    for (const amount of [0, -5, 1.5, '100', 2 ** 53, 100_000_000_000_001]) {
      const response = await post(alice, '/v1/transactions/topup', { amount });
      assert.equal(response.statusCode, 400, `amount ${amount}: ${response.body}`);
      const body = response.json() as ErrorBody;
      assert.ok(
        body.error.details?.some((detail) => detail.field === 'body.amount'),
        `amount ${amount}: ${response.body}`,
      );
    }
    const unknownField = await post(alice, '/v1/transactions/topup', { amount: 5, balance: 1 });
    assert.equal(unknownField.statusCode, 400);
    const badCursor = await get(alice, '/v1/transactions?cursor=nonsense');
    assert.equal(badCursor.statusCode, 400);
  });

  test('money routes need a login, staff routes need staff', async () => {
    const anonymous = await app.inject({
      method: 'POST',
      url: '/v1/transactions/transfer',
      payload: { to_account_number: '12345678', amount: 1 },
    });
    assert.equal(anonymous.statusCode, 401);
    const alice = await loginCustomer(app);
    const forbidden = await post(alice, `/v1/admin/users/${alice.userId}/topup`, { amount: 5 });
    assert.equal(forbidden.statusCode, 403);
    const stats = await get(alice, '/v1/admin/operations/statistics');
    assert.equal(stats.statusCode, 403);
  });

  test('Idempotency-Key: a replay returns the original status and body; another body is 409 IDEMPOTENCY_KEY_REUSED', async () => {
    const alice = await fundedCustomer(10_000);
    const bob = await loginCustomer(app);
    const first = await post(
      alice,
      '/v1/transactions/transfer',
      { to_account_number: bob.accountNumber, amount: 900 },
      'idem-1',
    );
    const replay = await post(
      alice,
      '/v1/transactions/transfer',
      { amount: 900, to_account_number: bob.accountNumber },
      'idem-1',
    );
    assert.equal(replay.statusCode, 201);
    assert.deepEqual(replay.json(), first.json());
    const reused = await post(
      alice,
      '/v1/transactions/transfer',
      { to_account_number: bob.accountNumber, amount: 901 },
      'idem-1',
    );
    assert.equal(reused.statusCode, 409);
    assert.equal((reused.json() as ErrorBody).error.code, 'IDEMPOTENCY_KEY_REUSED');
    const racing = await Promise.all(
      Array.from({ length: 10 }, () =>
        post(
          alice,
          '/v1/transactions/transfer',
          { to_account_number: bob.accountNumber, amount: 77 },
          'idem-race',
        ),
      ),
    );
    assert.ok(racing.every((response) => response.statusCode === 201 && response.body === racing[0]?.body));
    const received = await get(bob, '/v1/transactions?type=transfer_in');
    assert.equal((received.json() as { transactions: unknown[] }).transactions.length, 2);
  });

  test('a blocked customer gets 403 ACCOUNT_BLOCKED and maintenance mode is 503 MAINTENANCE_MODE', async () => {
    const alice = await fundedCustomer(1_000);
    const bob = await loginCustomer(app);
    await withScope(database.db, { tenantId: alice.tenantId }, (transaction) =>
      transaction.updateTable('users').set({ status: 2 }).where('id', '=', alice.userId).execute(),
    );
    const blocked = await post(alice, '/v1/transactions/transfer', {
      to_account_number: bob.accountNumber,
      amount: 5,
    });
    assert.equal(blocked.statusCode, 403, blocked.body);
    assert.equal((blocked.json() as ErrorBody).error.code, 'ACCOUNT_BLOCKED');
    const balances = await get(alice, '/v1/me/balances');
    assert.equal(balances.statusCode, 200, 'a blocked customer may still read');

    const paused = await buildApp({
      config: { ...config, money: { ...config.money, maintenanceMode: true } },
      database,
      logger: false,
    });
    try {
      await paused.ready();
      const response = await paused.inject({
        method: 'POST',
        url: '/v1/transactions/topup',
        headers: bearer(bob),
        payload: { amount: 5 },
      });
      assert.equal(response.statusCode, 503);
      assert.equal((response.json() as ErrorBody).error.code, 'MAINTENANCE_MODE');
    } finally {
      await paused.close();
    }
  });

  test('withdrawal: 202 pending with the amount held, then the worker completes it and the statement shows withdraw', async () => {
    const alice = await fundedCustomer(50_000);
    const account = await post(alice, '/v1/bank-accounts', {
      account_number: '0140099988877',
      account_name: 'Alice External',
      bank_code: '014',
      account_type: 'checking',
    });
    assert.equal(account.statusCode, 201, account.body);
    const bankAccountId = (account.json() as { id: string }).id;
    const requested = await post(
      alice,
      '/v1/transactions/withdraw',
      { amount: 20_000, bank_account_id: bankAccountId },
      'wd-1',
    );
    assert.equal(requested.statusCode, 202, requested.body);
    const operationId = (requested.json() as { operation_id: string }).operation_id;
    const balances = (await get(alice, '/v1/me/balances')).json() as {
      balances: { asset: string; locked: number; available: number }[];
    };
    assert.deepEqual(
      balances.balances
        .filter((wallet) => wallet.asset === 'IDR')
        .map((wallet) => [wallet.locked, wallet.available]),
      [[20_000, 30_000]],
    );
    await runPayoutWorker(database.db, config.money, createSimulatedBank({ failurePercent: 0, delayMs: 0 }));
    const status = await get(alice, `/v1/withdrawals/${operationId}`);
    assert.equal(status.statusCode, 200, status.body);
    const operation = status.json() as { status: string; external_reference: string | null };
    assert.equal(operation.status, 'completed');
    assert.ok(operation.external_reference);
    const withdraws = await get(alice, '/v1/transactions?type=withdraw');
    const entries = (withdraws.json() as { transactions: { amount: number; balance_after: number }[] })
      .transactions;
    assert.deepEqual(
      entries.map((entry) => [entry.amount, entry.balance_after]),
      [[20_000, 30_000]],
    );
    await assertLedgerClean();
  });

  test('bank accounts: add, update, set primary, soft delete; exactly one primary, enforced by the database', async () => {
    const alice = await loginCustomer(app);
    const listed = await get(alice, '/v1/bank-accounts');
    const initial = (listed.json() as { bank_accounts: { id: string; is_primary: boolean }[] }).bank_accounts;
    assert.equal(initial.filter((account) => account.is_primary).length, 1);
    const added = await post(alice, '/v1/bank-accounts', {
      account_number: '1234567890123',
      account_name: 'Second',
      is_primary: true,
    });
    assert.equal(added.statusCode, 201, added.body);
    const second = added.json() as { id: string; is_primary: boolean };
    assert.equal(second.is_primary, true);
    const duplicate = await post(alice, '/v1/bank-accounts', {
      account_number: '1234567890123',
      account_name: 'Again',
    });
    assert.equal(duplicate.statusCode, 409);
    const badNumber = await post(alice, '/v1/bank-accounts', { account_number: '12ab', account_name: 'Bad' });
    assert.equal(badNumber.statusCode, 400);
    const renamed = await app.inject({
      method: 'PUT',
      url: `/v1/bank-accounts/${second.id}`,
      headers: bearer(alice),
      payload: { account_name: 'Renamed' },
    });
    assert.equal(renamed.statusCode, 200, renamed.body);
    const first = initial[0];
    assert.ok(first);
    const primary = await app.inject({
      method: 'PUT',
      url: `/v1/bank-accounts/${first.id}/primary`,
      headers: bearer(alice),
    });
    assert.equal((primary.json() as { is_primary: boolean }).is_primary, true);
    const deleted = await app.inject({
      method: 'DELETE',
      url: `/v1/bank-accounts/${first.id}`,
      headers: bearer(alice),
    });
    assert.equal(deleted.statusCode, 200);
    assert.equal((deleted.json() as { is_active: boolean }).is_active, false);
    const after = (await get(alice, '/v1/bank-accounts')).json() as {
      bank_accounts: { id: string; is_primary: boolean }[];
    };
    assert.deepEqual(
      after.bank_accounts.map((account) => [account.id, account.is_primary]),
      [[second.id, true]],
    );
    // The database itself refuses a second primary and a user with active accounts but no primary.
    await assert.rejects(
      withScope(database.db, { tenantId: alice.tenantId }, (transaction) =>
        transaction
          .insertInto('bank_accounts')
          .values({
            tenant_id: alice.tenantId,
            user_id: alice.userId,
            account_number: '5555555555',
            account_name: 'Sneaky',
            is_primary: true,
          })
          .execute(),
      ),
    );
    await assert.rejects(
      withScope(database.db, { tenantId: alice.tenantId }, (transaction) =>
        transaction
          .updateTable('bank_accounts')
          .set({ is_primary: false })
          .where('id', '=', second.id)
          .execute(),
      ),
      /exactly one primary/,
    );
  });

  test('KYC: submit, one pending at a time, officer approves (tier rises) or rejects, the job expires', async () => {
    const alice = await loginCustomer(app);
    const officer = await loginStaff(app, 'officer');
    const submitted = await post(alice, '/v1/kyc', {
      tier_level: 2,
      document_type: 'passport',
      document_country: 'ID',
      document_number: 'A1234567',
    });
    assert.equal(submitted.statusCode, 201, submitted.body);
    const recordId = (submitted.json() as { id: string }).id;
    const again = await post(alice, '/v1/kyc', {
      tier_level: 1,
      document_type: 'passport',
      document_country: 'ID',
      document_number: 'A1234567',
    });
    assert.equal(again.statusCode, 409);
    const queue = await get(officer, '/v1/admin/kyc?status=pending');
    assert.ok(
      (queue.json() as { records: { id: string }[] }).records.some((record) => record.id === recordId),
    );
    const forbidden = await post(alice, `/v1/admin/kyc/${recordId}/approve`, {});
    assert.equal(forbidden.statusCode, 403);
    const approved = await post(officer, `/v1/admin/kyc/${recordId}/approve`, {});
    assert.equal(approved.statusCode, 200, approved.body);
    assert.equal((await get(alice, '/v1/kyc')).json().kyc_tier, 2);
    const twice = await post(officer, `/v1/admin/kyc/${recordId}/reject`, { reason: 'too late' });
    assert.equal(twice.statusCode, 409);

    const bob = await loginCustomer(app);
    const bobs = await post(bob, '/v1/kyc', {
      tier_level: 1,
      document_type: 'national_id',
      document_country: 'ID',
      document_number: '3174012345670001',
    });
    const rejected = await post(officer, `/v1/admin/kyc/${(bobs.json() as { id: string }).id}/reject`, {
      reason: 'Document image is not legible',
    });
    assert.equal((rejected.json() as { status: string; rejection_reason: string }).status, 'rejected');

    await withScope(database.db, { tenantId: alice.tenantId }, (transaction) =>
      sql`update kyc_records set expires_at = now() - interval '1 minute' where id = ${recordId}`.execute(
        transaction,
      ),
    );
    assert.ok((await expireKycRecords(database.db)) >= 1);
    const mine = (await get(alice, '/v1/kyc')).json() as { kyc_tier: number; records: { status: string }[] };
    assert.equal(mine.kyc_tier, 0);
    assert.equal(mine.records[0]?.status, 'expired');
  });

  test('staff: top-up a customer, place/release/capture holds exactly once, statistics, total supply, any statement', async () => {
    const admin = await loginStaff(app, 'admin');
    const alice = await loginCustomer(app);
    const credited = await post(
      admin,
      `/v1/admin/users/${alice.userId}/topup`,
      { amount: 9_000 },
      'staff-topup-1',
    );
    assert.equal(credited.statusCode, 201, credited.body);
    const placed = await post(admin, '/v1/admin/holds', {
      user_id: alice.userId,
      amount: 4_000,
      reason: 'fraud review',
    });
    assert.equal(placed.statusCode, 201, placed.body);
    const holdId = (placed.json() as { id: string }).id;
    const captured = await post(admin, `/v1/admin/holds/${holdId}/capture`, {});
    assert.equal(captured.statusCode, 200, captured.body);
    const again = await post(admin, `/v1/admin/holds/${holdId}/release`, {});
    assert.equal(again.statusCode, 409);
    assert.equal((again.json() as ErrorBody).error.code, 'HOLD_NOT_ACTIVE');
    const second = await post(admin, '/v1/admin/holds', {
      user_id: alice.userId,
      amount: 1_000,
      reason: 'second look',
    });
    const released = await post(admin, `/v1/admin/holds/${(second.json() as { id: string }).id}/release`, {});
    assert.equal(released.statusCode, 200);
    const balances = (await get(alice, '/v1/me/balances')).json() as {
      balances: { asset: string; balance: number; locked: number }[];
    };
    assert.deepEqual(
      balances.balances.map((wallet) => [wallet.asset, wallet.balance, wallet.locked]),
      [['IDR', 5_000, 0]],
    );

    const stats = await get(admin, '/v1/admin/operations/statistics?days=7');
    assert.equal(stats.statusCode, 200, stats.body);
    assert.ok(
      (stats.json() as { statistics: { type: string }[] }).statistics.some(
        (row) => row.type === 'hold_capture',
      ),
    );
    const supply = await get(admin, '/v1/admin/assets/supply');
    const idr = (supply.json() as { assets: { asset: string; all_wallets_sum: string }[] }).assets.find(
      (row) => row.asset === 'IDR',
    );
    assert.equal(idr?.all_wallets_sum, '0');
    const statement = await get(admin, `/v1/admin/users/${alice.userId}/transactions`);
    assert.equal((statement.json() as { transactions: unknown[] }).transactions.length, 2);
    await assertLedgerClean();
  });
});
