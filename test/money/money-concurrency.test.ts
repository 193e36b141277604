import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { Pool } from 'undici';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { checkLedger } from '../../src/modules/ledger/ledger-check.ts';
import { topup } from '../../src/modules/transactions/topups.service.ts';
import { transfer } from '../../src/modules/transfers/transfers.service.ts';
import { bearer, type LoggedInCustomer, loginCustomer } from '../helpers/auth.ts';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';
import { createCustomer, createTenant, testMoneyConfig } from './money-fixtures.ts';

/**
 * Real parallel HTTP clients against a listening server on the PostgreSQL engine (PGlite runs one
 * statement at a time, so it cannot show a race). Afterwards: no 5xx, every 201 transfer is in the
 * ledger exactly once, no rejected one is, balances match the responses, and `ledger check` is clean.
 */
const onServer = testEngine === 'postgres';
const config = loadConfig({
  NODE_ENV: 'test',
  KYC_TIER0_DAILY_OUTGOING: '900000000000',
  KYC_TIER0_SINGLE_TRANSFER_MAX: '900000000000',
});
const clientsConcurrent = 32;
const startingBalance = 100_000;

let database: TestDatabase;
let app: AppInstance;
let http: Pool;

before(async () => {
  if (!onServer) return;
  database = await openTestDatabase();
  app = await buildApp({ config, database, logger: false });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  http = new Pool(address, { connections: clientsConcurrent });
});

after(async () => {
  if (!onServer) return;
  await http.close();
  await app.close();
  await database.close();
});

interface Sent {
  from: number;
  to: number;
  amount: number;
  status: number;
  transactionId: string | undefined;
  code: string | undefined;
}

async function runPool<T>(tasks: readonly (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < tasks.length) {
        const index = next++;
        const task = tasks[index];
        if (task) results[index] = await task();
      }
    }),
  );
  return results;
}

async function sendTransfer(
  from: LoggedInCustomer,
  to: LoggedInCustomer,
  amount: number,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await http.request({
    method: 'POST',
    path: '/v1/transactions/transfer',
    headers: { ...bearer(from), 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    body: JSON.stringify({ to_account_number: to.accountNumber, amount }),
  });
  const body = (await response.body.json()) as Record<string, unknown>;
  return { status: response.statusCode, body };
}

async function customersFunded(count: number): Promise<LoggedInCustomer[]> {
  const people = await Promise.all(Array.from({ length: count }, () => loginCustomer(app)));
  for (const person of people) {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/transactions/topup',
      headers: bearer(person),
      payload: { amount: startingBalance },
    });
    assert.equal(response.statusCode, 201, response.body);
  }
  return people;
}

async function verify(people: LoggedInCustomer[], sent: Sent[]): Promise<void> {
  const fivexx = sent.filter((item) => item.status >= 500);
  assert.equal(fivexx.length, 0, `server errors: ${JSON.stringify(fivexx.slice(0, 3))}`);
  for (const item of sent) {
    assert.ok(
      item.status === 201 || item.code === 'INSUFFICIENT_FUNDS',
      `unexpected ${item.status} ${item.code}`,
    );
  }
  const accepted = sent.filter((item) => item.status === 201);
  const tenantId = people[0]?.tenantId as string;
  await withScope(database.db, { tenantId }, async (transaction) => {
    const ids = accepted.map((item) => item.transactionId as string);
    const counted = await sql<{ movement_id: string; entries: number; types: string }>`
      select movement_id, count(*)::bigint as entries, string_agg(type, ',' order by type) as types
      from transactions where tenant_id = ${tenantId} and movement_id = any(${ids}::uuid[]) group by movement_id`.execute(
      transaction,
    );
    assert.equal(counted.rows.length, accepted.length, 'every 201 transfer is in the ledger');
    for (const row of counted.rows) {
      assert.equal(row.entries, 2);
      assert.equal(row.types, 'transfer_in,transfer_out');
    }
    const userIds = people.map((person) => person.userId);
    const outgoing = await sql<{ total: number }>`
      select count(*)::bigint as total from transactions
      where tenant_id = ${tenantId} and type = 'transfer_out' and user_id = any(${userIds}::uuid[])`.execute(
      transaction,
    );
    assert.equal(outgoing.rows[0]?.total, accepted.length, 'no rejected transfer left an entry');
    const expected = people.map(() => startingBalance);
    for (const item of accepted) {
      expected[item.from] = (expected[item.from] as number) - item.amount;
      expected[item.to] = (expected[item.to] as number) + item.amount;
    }
    const wallets = await transaction
      .selectFrom('wallets')
      .select(['user_id', 'balance'])
      .where('user_id', 'in', userIds)
      .where('asset_code', '=', 'IDR')
      .execute();
    const byUser = new Map(wallets.map((wallet) => [wallet.user_id, wallet.balance]));
    assert.deepEqual(
      userIds.map((id) => byUser.get(id)),
      expected,
    );
    assert.ok(expected.every((balance) => balance >= 0));
  });
  const check = await checkLedger(database.db);
  assert.equal(check.problem, undefined, JSON.stringify(check.problem));
}

describe('concurrent transfers over HTTP (PostgreSQL server)', {
  skip: !onServer && 'needs TEST_DATABASE_URL',
}, () => {
  test('uniform random pairs: 400 transfers by 32 parallel clients, some overdrawing', async () => {
    const people = await customersFunded(16);
    const plan = Array.from({ length: 400 }, () => {
      const from = Math.floor(Math.random() * people.length);
      let to = Math.floor(Math.random() * (people.length - 1));
      if (to >= from) to += 1;
      return { from, to, amount: 1 + Math.floor(Math.random() * 25_000) };
    });
    const sent = await runPool(
      plan.map((item) => async (): Promise<Sent> => {
        const response = await sendTransfer(
          people[item.from] as LoggedInCustomer,
          people[item.to] as LoggedInCustomer,
          item.amount,
        );
        return {
          ...item,
          status: response.status,
          transactionId: response.body.transaction_id as string | undefined,
          code: (response.body.error as { code?: string } | undefined)?.code,
        };
      }),
      clientsConcurrent,
    );
    assert.ok(
      sent.some((item) => item.status === 201) && sent.some((item) => item.status === 422),
      'both outcomes occur',
    );
    await verify(people, sent);
  });

  // Regression (issue 7.21): this test once accepted INSUFFICIENT_FUNDS for every transfer, so it
  // passed even if none succeeded. Every sender can afford all of its transfers: each must succeed.
  test('hot wallet: every sender pays one merchant at once, and every transfer succeeds', async () => {
    const people = await customersFunded(24);
    const merchant = 0;
    const plan = Array.from({ length: 320 }, (_, index) => ({
      from: 1 + (index % (people.length - 1)),
      to: merchant,
      amount: 1 + (index % 9_000),
    }));
    const owed = new Map<number, number>();
    for (const item of plan) owed.set(item.from, (owed.get(item.from) ?? 0) + item.amount);
    assert.ok(
      [...owed.values()].every((total) => total <= startingBalance),
      'the plan is affordable',
    );
    const sent = await runPool(
      plan.map((item) => async (): Promise<Sent> => {
        const response = await sendTransfer(
          people[item.from] as LoggedInCustomer,
          people[item.to] as LoggedInCustomer,
          item.amount,
        );
        return {
          ...item,
          status: response.status,
          transactionId: response.body.transaction_id as string | undefined,
          code: (response.body.error as { code?: string } | undefined)?.code,
        };
      }),
      clientsConcurrent * 2,
    );
    const refused = sent.filter((item) => item.status !== 201);
    assert.equal(refused.length, 0, `refused: ${JSON.stringify(refused.slice(0, 3))}`);
    await verify(people, sent);
  });
});

describe('a thousand senders into one wallet at once (PostgreSQL server)', {
  skip: !onServer && 'needs TEST_DATABASE_URL',
}, () => {
  test('1000 concurrent transfers into one merchant: all succeed, none lost or doubled, no 500', async () => {
    const services = { db: database.db, money: testMoneyConfig() };
    const tenantId = await createTenant(database.db);
    const merchant = await createCustomer(database.db, tenantId);
    const senders = [];
    for (let index = 0; index < 1000; index += 1) {
      const sender = await createCustomer(database.db, tenantId);
      await topup(services, sender.principal, sender.audit, undefined, sender.userId, { amount: 1_000 });
      senders.push(sender);
    }
    const outcomes = await Promise.allSettled(
      senders.map((sender, index) =>
        transfer(services, sender.principal, sender.audit, `hot-${index}`, {
          to_account_number: merchant.accountNumber,
          amount: 1 + (index % 1_000),
        }),
      ),
    );
    const failures = outcomes.filter((outcome) => outcome.status === 'rejected');
    assert.equal(failures.length, 0, String((failures[0] as PromiseRejectedResult | undefined)?.reason));
    const expected = senders.reduce((sum, _sender, index) => sum + 1 + (index % 1_000), 0);
    const wallet = await withScope(database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('wallets')
        .select(['balance', 'entry_count'])
        .where('id', '=', merchant.walletId)
        .executeTakeFirstOrThrow(),
    );
    assert.deepEqual(wallet, { balance: expected, entry_count: 1000 });
    const check = await checkLedger(database.db);
    assert.equal(check.problem, undefined, JSON.stringify(check.problem));
  });
});
