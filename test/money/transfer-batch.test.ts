import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { checkLedger } from '../../src/modules/ledger/ledger-check.ts';
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

interface BatchBody {
  atomic: boolean;
  status: string;
  completed: number;
  rejected: number;
  items: {
    index: number;
    reference: string | null;
    status: string;
    balance_after?: number;
    error?: { code: string; details?: { field?: string }[] };
  }[];
}

interface ErrorBody {
  error: { code: string; message: string; details?: { field?: string; reason: string }[] };
}

async function post(who: { accessToken: string }, url: string, payload: unknown, key?: string) {
  return app.inject({
    method: 'POST',
    url,
    headers: { ...bearer(who), ...(key ? { 'idempotency-key': key } : {}) },
    payload: payload as Record<string, unknown>,
  });
}

async function balanceOf(who: LoggedInCustomer): Promise<number> {
  const response = await app.inject({ method: 'GET', url: '/v1/me/balances', headers: bearer(who) });
  const balances = (response.json() as { balances: { asset: string; balance: number }[] }).balances;
  return balances.find((wallet) => wallet.asset === 'IDR')?.balance ?? 0;
}

async function funded(amount: number): Promise<LoggedInCustomer> {
  const customer = await loginCustomer(app);
  const response = await post(customer, '/v1/transactions/topup', { amount });
  assert.equal(response.statusCode, 201, response.body);
  return customer;
}

async function assertLedgerClean(): Promise<void> {
  const result = await checkLedger(database.db);
  assert.equal(result.problem, undefined, JSON.stringify(result.problem));
}

describe('POST /v1/transactions/batch', () => {
  test('an atomic batch posts every transfer, in order, with one outcome per item', async () => {
    const payer = await funded(10_000);
    const [bob, carol] = [await loginCustomer(app), await loginCustomer(app)];
    const response = await post(payer, '/v1/transactions/batch', {
      atomic: true,
      transfers: [
        { to_account_number: bob.accountNumber, amount: 1_000, reference: 'a' },
        { to_account_number: carol.accountNumber, amount: 2_000, description: 'two' },
        { to_account_number: bob.accountNumber, amount: 3_000, reference: 'c' },
      ],
    });
    assert.equal(response.statusCode, 201, response.body);
    const body = response.json() as BatchBody;
    assert.deepEqual(
      { atomic: body.atomic, status: body.status, completed: body.completed, rejected: body.rejected },
      { atomic: true, status: 'completed', completed: 3, rejected: 0 },
    );
    assert.deepEqual(
      body.items.map((item) => [item.index, item.reference, item.status, item.balance_after]),
      [
        [0, 'a', 'completed', 9_000],
        [1, null, 'completed', 7_000],
        [2, 'c', 'completed', 4_000],
      ],
    );
    assert.deepEqual(
      [await balanceOf(payer), await balanceOf(bob), await balanceOf(carol)],
      [4_000, 4_000, 2_000],
    );
    await assertLedgerClean();
  });

  test('an atomic batch with one failing item moves nothing and names the item by index and code', async () => {
    const payer = await funded(5_000);
    const bob = await loginCustomer(app);
    const response = await post(payer, '/v1/transactions/batch', {
      atomic: true,
      transfers: [
        { to_account_number: bob.accountNumber, amount: 1_000 },
        { to_account_number: bob.accountNumber, amount: 4_500 },
        { to_account_number: bob.accountNumber, amount: 1 },
      ],
    });
    assert.equal(response.statusCode, 422, response.body);
    const body = response.json() as ErrorBody;
    assert.equal(body.error.code, 'INSUFFICIENT_FUNDS');
    assert.equal(body.error.details?.[0]?.field, 'body.transfers.1.amount');
    assert.match(body.error.message, /Transfer 1 /);
    assert.deepEqual([await balanceOf(payer), await balanceOf(bob)], [5_000, 0]);
    await assertLedgerClean();
  });

  test('a non-atomic batch keeps each item its own outcome: one rejection among successes', async () => {
    const payer = await funded(5_000);
    const bob = await loginCustomer(app);
    const response = await post(
      payer,
      '/v1/transactions/batch',
      {
        atomic: false,
        transfers: [
          { to_account_number: bob.accountNumber, amount: 1_000 },
          { to_account_number: '99999999999999', amount: 10 },
          { to_account_number: payer.accountNumber, amount: 10 },
          { to_account_number: bob.accountNumber, amount: 9_000 },
          { to_account_number: bob.accountNumber, amount: 500 },
        ],
      },
      'batch-partial',
    );
    assert.equal(response.statusCode, 201, response.body);
    const body = response.json() as BatchBody;
    assert.deepEqual(
      body.items.map((item) => item.error?.code ?? item.status),
      ['completed', 'RECIPIENT_NOT_FOUND', 'SELF_TRANSFER', 'INSUFFICIENT_FUNDS', 'completed'],
    );
    assert.equal(body.items[1]?.error?.details?.[0]?.field, 'body.transfers.1.to_account_number');
    assert.deepEqual([body.status, body.completed, body.rejected], ['partial', 2, 3]);
    assert.deepEqual([await balanceOf(payer), await balanceOf(bob)], [3_500, 1_500]);
    await assertLedgerClean();
  });

  test('the same key replays a batch without moving money again; another body is IDEMPOTENCY_KEY_REUSED', async () => {
    const payer = await funded(5_000);
    const bob = await loginCustomer(app);
    const batch = { atomic: true, transfers: [{ to_account_number: bob.accountNumber, amount: 700 }] };
    const first = await post(payer, '/v1/transactions/batch', batch, 'batch-key');
    const second = await post(payer, '/v1/transactions/batch', batch, 'batch-key');
    assert.equal(first.statusCode, 201, first.body);
    assert.deepEqual(second.json(), first.json());
    const other = await post(payer, '/v1/transactions/batch', { ...batch, atomic: false }, 'batch-key');
    assert.equal((other.json() as ErrorBody).error.code, 'IDEMPOTENCY_KEY_REUSED');
    assert.deepEqual([await balanceOf(payer), await balanceOf(bob)], [4_300, 700]);
  });

  test('40 identical batch requests at once under one key post the batch once and all answer alike', async () => {
    const payer = await funded(5_000);
    const bob = await loginCustomer(app);
    const batch = {
      atomic: true,
      transfers: [
        { to_account_number: bob.accountNumber, amount: 100 },
        { to_account_number: bob.accountNumber, amount: 200 },
      ],
    };
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => post(payer, '/v1/transactions/batch', batch, 'batch-burst')),
    );
    for (const answer of answers) assert.equal(answer.statusCode, 201, answer.body);
    const ids = new Set(answers.map((answer) => JSON.stringify((answer.json() as BatchBody).items)));
    assert.equal(ids.size, 1, 'one stored response replayed');
    assert.deepEqual([await balanceOf(payer), await balanceOf(bob)], [4_700, 300]);
    await assertLedgerClean();
  });

  test('over 1,000 items, a duplicate reference, a fractional or negative amount, an unknown field: 400 naming the item, nothing moves', async () => {
    const payer = await funded(5_000);
    const bob = await loginCustomer(app);
    const item = { to_account_number: bob.accountNumber, amount: 1 };
    const cases: [unknown, string][] = [
      [{ atomic: true, transfers: Array.from({ length: 1001 }, () => item) }, 'body.transfers'],
      [
        {
          atomic: true,
          transfers: [
            { ...item, reference: 'x' },
            { ...item, reference: 'x' },
          ],
        },
        'body.transfers.1.reference',
      ],
      [{ atomic: false, transfers: [item, { ...item, amount: 1.5 }] }, 'body.transfers.1.amount'],
      [{ atomic: false, transfers: [item, item, { ...item, amount: -3 }] }, 'body.transfers.2.amount'],
      [{ atomic: true, transfers: [{ ...item, colour: 'red' }] }, 'body.transfers.0'],
      [{ atomic: true, transfers: [item], extra: 1 }, 'body'],
    ];
    for (const [payload, field] of cases) {
      const response = await post(payer, '/v1/transactions/batch', payload);
      assert.equal(response.statusCode, 400, `${field}: ${response.body}`);
      const fields = (response.json() as ErrorBody).error.details?.map((detail) => detail.field ?? '') ?? [];
      assert.ok(
        fields.some((named) => named.startsWith(field)),
        `${field} not named in ${JSON.stringify(fields)}`,
      );
    }
    assert.deepEqual([await balanceOf(payer), await balanceOf(bob)], [5_000, 0]);
  });

  test('the session checked in the statement answers as the guard: logged out 401, staff 403, and nothing moves', async () => {
    const payer = await funded(5_000);
    const bob = await loginCustomer(app);
    const transfer = { to_account_number: bob.accountNumber, amount: 100 };
    const batch = { atomic: true, transfers: [transfer] };
    const staff = await loginStaff(app, 'admin');
    for (const [url, payload] of [
      ['/v1/transactions/transfer', transfer],
      ['/v1/transactions/batch', batch],
    ] as const) {
      const forbidden = await post(staff, url, payload);
      assert.equal(forbidden.statusCode, 403, `${url}: ${forbidden.body}`);
      assert.equal((forbidden.json() as ErrorBody).error.code, 'FORBIDDEN');
    }
    const logout = await app.inject({ method: 'POST', url: '/v1/auth/logout', headers: bearer(payer) });
    assert.equal(logout.statusCode, 200, logout.body);
    for (const [url, payload] of [
      ['/v1/transactions/transfer', transfer],
      ['/v1/transactions/batch', batch],
      ['/v1/transactions/batch', { atomic: 'no' }],
    ] as const) {
      const refused = await post(payer, url, payload, `after-logout-${url}`);
      assert.equal(refused.statusCode, 401, `${url}: ${refused.body}`);
      assert.equal((refused.json() as ErrorBody).error.code, 'UNAUTHENTICATED');
    }
    // Every attempt went to bob: nothing reached him, and the ledger still proves itself.
    assert.equal(await balanceOf(bob), 0);
    await assertLedgerClean();
  });

  test('without a valid session a batch is 401 before any validation, and moves nothing', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/transactions/batch',
      headers: { authorization: 'Bearer a.b.c' },
      payload: { atomic: 'maybe' },
    });
    assert.equal(response.statusCode, 401, response.body);
  });
});
