import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { checkLedger } from '../../src/modules/ledger/ledger-check.ts';
import type { MoneyServices } from '../../src/modules/ledger/money-services.ts';
import { topup } from '../../src/modules/transactions/topups.service.ts';
import { transfer, transferEngine } from '../../src/modules/transfers/transfers.service.ts';
import { AppError } from '../../src/platform/errors.ts';
import { bearer, loginCustomer } from '../helpers/auth.ts';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';
import { createCustomer, createTenant, type TestCustomer, testMoneyConfig } from './money-fixtures.ts';

/**
 * Group commit (issue 8): concurrent transfers of one process share one database call and one
 * transaction, and each still gets its own outcome.
 */
let database: TestDatabase;
let services: MoneyServices;
let tenantId: string;

before(async () => {
  database = await openTestDatabase();
  services = { db: database.db, money: testMoneyConfig(), databaseEngine: testEngine };
  tenantId = await createTenant(database.db);
});

after(async () => {
  await database.close();
});

async function funded(amount: number): Promise<TestCustomer> {
  const customer = await createCustomer(database.db, tenantId);
  await topup(services, customer.principal, customer.audit, undefined, customer.userId, { amount });
  return customer;
}

async function balance(customer: TestCustomer): Promise<number> {
  return withScope(database.db, { tenantId }, async (transaction) => {
    const row = await transaction
      .selectFrom('wallets')
      .select('balance')
      .where('tenant_id', '=', tenantId)
      .where('id', '=', customer.walletId)
      .executeTakeFirstOrThrow();
    return row.balance;
  });
}

async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'completed';
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
}

describe('group commit', () => {
  test('one rejected transfer among many fails only itself, and concurrent transfers share groups', async () => {
    const payers = await Promise.all(Array.from({ length: 6 }, () => funded(10_000)));
    const receiver = await createCustomer(database.db, tenantId);
    const blocked = await createCustomer(database.db, tenantId, { status: 2 });
    const before = { ...transferEngine(services).statistics };
    const attempts = payers.flatMap((payer, index) =>
      Array.from({ length: 5 }, (_, turn) => ({
        payer,
        to: index === 2 && turn === 3 ? blocked : receiver,
        amount: index === 4 && turn === 1 ? 1_000_000 : 100,
      })),
    );
    const outcomes = await Promise.all(
      attempts.map((attempt) =>
        outcome(
          transfer(services, attempt.payer.principal, attempt.payer.audit, undefined, {
            to_account_number: attempt.to.accountNumber,
            amount: attempt.amount,
          }),
        ),
      ),
    );
    const expected = attempts.map((attempt) =>
      attempt.to === blocked
        ? 'RECIPIENT_BLOCKED'
        : attempt.amount > 10_000
          ? 'INSUFFICIENT_FUNDS'
          : 'completed',
    );
    assert.deepEqual(outcomes, expected);
    assert.equal(await balance(receiver), 28 * 100);
    assert.equal(await balance(blocked), 0);
    const after = transferEngine(services).statistics;
    const groups = after.groups - before.groups;
    const requests = after.requests - before.requests;
    assert.equal(requests, attempts.length);
    assert.ok(groups < requests / 2, `${requests} concurrent requests took ${groups} groups`);
    assert.equal((await checkLedger(database.db)).problem, undefined);
  });

  test('racing duplicates of one key in one group make one movement; another body under the key is refused', async () => {
    const payer = await funded(10_000);
    const receiver = await createCustomer(database.db, tenantId);
    const body = { to_account_number: receiver.accountNumber, amount: 250 };
    const sent = await Promise.allSettled([
      ...Array.from({ length: 6 }, () => transfer(services, payer.principal, payer.audit, 'dup-key', body)),
      transfer(services, payer.principal, payer.audit, 'dup-key', { ...body, amount: 251 }),
    ]);
    const fulfilled = sent.filter((result) => result.status === 'fulfilled');
    assert.equal(fulfilled.length, 6);
    const ids = new Set(
      fulfilled.map((result) => (result.value.body as { transaction_id: string }).transaction_id),
    );
    assert.equal(ids.size, 1);
    const last = sent.at(-1);
    assert.ok(last?.status === 'rejected' && last.reason instanceof AppError);
    assert.equal(last.reason.code, 'IDEMPOTENCY_KEY_REUSED');
    assert.equal(await balance(receiver), 250);
    assert.equal(await balance(payer), 9_750);
  });

  test('a failing statement is split: each request of the group is posted alone and fails only itself', async () => {
    const payer = await funded(10_000);
    const receiver = await createCustomer(database.db, tenantId);
    const engine = transferEngine(services);
    const splitsBefore = engine.statistics.splits;
    // An amount the statement cannot take as bigint makes the whole group's call fail.
    const request = (amount: number) => ({
      user_id: payer.userId,
      hash: '0'.repeat(64),
      endpoint: 'test',
      batch: false,
      atomic: true,
      items: [{ to_account_number: receiver.accountNumber, amount, asset: 'IDR' }],
      audit: {},
    });
    const broken = engine.submit(tenantId, request(1e30));
    const good = engine.submit(tenantId, request(300));
    await assert.rejects(broken);
    assert.equal((await good).status, 201);
    assert.ok(engine.statistics.splits > splitsBefore, 'the group was split');
    assert.equal(await balance(receiver), 300);
  });
});

describe('regression (issue 5) under group commit: a statement pages through entries posted in one group', () => {
  let app: AppInstance;
  before(async () => {
    // A window gathers the concurrent requests into one group even on the one-connection engine.
    const config = loadConfig({ NODE_ENV: 'test', MONEY_GROUP_COMMIT_WINDOW_MS: '25' });
    app = await buildApp({ config, database, logger: false });
    await app.ready();
  });
  after(async () => {
    await app.close();
  });

  test('limit=1 returns every entry once, in order, though the group gave them one created_at', async () => {
    const payer = await loginCustomer(app);
    const topped = await app.inject({
      method: 'POST',
      url: '/v1/transactions/topup',
      headers: bearer(payer),
      payload: { amount: 100_000 },
    });
    assert.equal(topped.statusCode, 201, topped.body);
    const receivers = await Promise.all(Array.from({ length: 4 }, () => loginCustomer(app)));
    const sent = await Promise.all(
      Array.from({ length: 24 }, (_, index) =>
        app.inject({
          method: 'POST',
          url: '/v1/transactions/transfer',
          headers: bearer(payer),
          payload: { to_account_number: receivers[index % 4]?.accountNumber, amount: 10 + index },
        }),
      ),
    );
    for (const response of sent) assert.equal(response.statusCode, 201, response.body);
    const shared = await sql<{ moments: number }>`
      select count(distinct created_at)::int as moments from transactions
       where type = 'transfer_out' and amount between 10 and 33`.execute(database.db);
    assert.ok((shared.rows[0]?.moments ?? 0) < 24, 'some entries share a created_at (one group)');
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 100; page += 1) {
      const query: URLSearchParams = new URLSearchParams({ limit: '1', ...(cursor ? { cursor } : {}) });
      const response: { statusCode: number; body: string; json(): unknown } = await app.inject({
        method: 'GET',
        url: `/v1/transactions?${query}`,
        headers: bearer(payer),
      });
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json() as { transactions: { id: string }[]; next_cursor: string | null };
      seen.push(...body.transactions.map((entry) => entry.id));
      cursor = body.next_cursor;
      if (cursor === null) break;
    }
    assert.equal(seen.length, 25, 'the top-up and 24 transfers');
    assert.equal(new Set(seen).size, 25);
  });
});
