import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { AppInstance } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { checkLedger } from '../../src/modules/ledger/ledger-check.ts';
import { bearer, type LoggedIn, loginCustomer, loginStaff } from '../helpers/auth.ts';
import type { TestDatabase } from '../helpers/database.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

/**
 * Money stays within the range the code represents exactly (issue 7, item 8). A customer balance is a
 * JSON number, exact up to 2^53 − 1; a system wallet accumulates every flow of its asset and is an
 * exact BIGINT. Before, one top-up of 2^53 − 1 iSTSi took the shared cash-in wallet past 2^53 and every
 * later top-up of the asset, by anyone, answered 500.
 */
const config = loadConfig({ NODE_ENV: 'test' });
const safeMaximum = Number.MAX_SAFE_INTEGER;

let running: TestApp;
let database: TestDatabase;
let app: AppInstance;

before(async () => {
  running = await startTestApp(config);
  ({ app, database } = running);
});

after(() => running.close());

function topupIstsi(who: LoggedIn, amount: number) {
  return app.inject({
    method: 'POST',
    url: '/v1/transactions/topup',
    headers: { ...bearer(who), 'idempotency-key': randomUUID() },
    payload: { amount, asset: 'iSTSi' },
  });
}

async function istsiBalance(who: LoggedIn): Promise<number | undefined> {
  const response = await app.inject({ method: 'GET', url: '/v1/me/balances', headers: bearer(who) });
  assert.equal(response.statusCode, 200, response.body);
  const body = response.json() as { balances: { asset: string; balance: number }[] };
  return body.balances.find((balance) => balance.asset === 'iSTSi')?.balance;
}

async function cashInBalance(tenantId: string): Promise<bigint> {
  const row = await withScope(database.db, { tenantId }, (transaction) =>
    sql<{ balance: string }>`select balance::text as balance from wallets
      where tenant_id = ${tenantId} and system_purpose = 'cash_in' and asset_code = 'iSTSi'`.execute(
      transaction,
    ),
  );
  return BigInt(row.rows[0]?.balance ?? '0');
}

async function assertLedgerClean(): Promise<void> {
  const check = await checkLedger(database.db);
  assert.equal(check.problem, undefined, JSON.stringify(check.problem));
}

describe('money ranges', () => {
  test('regression (issue 7.8): after a top-up of 2^53 − 1 iSTSi, other customers still top up and nobody gets a 500', async () => {
    const whale = await loginCustomer(app);
    const first = await topupIstsi(whale, safeMaximum);
    assert.equal(first.statusCode, 201, first.body);
    assert.equal(first.json().balance_after, safeMaximum);

    const others = await Promise.all([loginCustomer(app), loginCustomer(app)]);
    for (const other of others) {
      const response = await topupIstsi(other, 5_000);
      assert.equal(response.statusCode, 201, response.body);
      assert.equal(await istsiBalance(other), 5_000);
    }
    // The shared cash-in account is past 2^53 now, exactly.
    const tenantId = whale.tenantId;
    assert.equal(await cashInBalance(tenantId), -(BigInt(safeMaximum) + 10_000n));

    const supply = await app.inject({
      method: 'GET',
      url: '/v1/admin/assets/supply',
      headers: bearer(await loginStaff(app, 'admin')),
    });
    assert.equal(supply.statusCode, 200, supply.body);
    assert.match(supply.body, /"cash_in_balance":"-9007199254750991"/);
    await assertLedgerClean();
  });

  test('a credit that would take a customer balance past 2^53 − 1 is refused with 422 BALANCE_LIMIT_EXCEEDED and changes nothing', async () => {
    const whale = await loginCustomer(app);
    assert.equal((await topupIstsi(whale, safeMaximum - 10)).statusCode, 201);
    const tenantId = whale.tenantId;
    const cashInBefore = await cashInBalance(tenantId);

    const over = await topupIstsi(whale, 11);
    assert.equal(over.statusCode, 422, over.body);
    assert.equal(over.json().error.code, 'BALANCE_LIMIT_EXCEEDED');
    assert.equal(await istsiBalance(whale), safeMaximum - 10);
    assert.equal(await cashInBalance(tenantId), cashInBefore);

    const sender = await loginCustomer(app);
    assert.equal((await topupIstsi(sender, 100)).statusCode, 201);
    const transfer = await app.inject({
      method: 'POST',
      url: '/v1/transactions/transfer',
      headers: { ...bearer(sender), 'idempotency-key': randomUUID() },
      payload: { to_account_number: whale.accountNumber, amount: 11, asset: 'iSTSi' },
    });
    assert.equal(transfer.statusCode, 422, transfer.body);
    assert.equal(transfer.json().error.code, 'BALANCE_LIMIT_EXCEEDED');
    assert.equal(await istsiBalance(sender), 100);

    const exact = await topupIstsi(whale, 10);
    assert.equal(exact.statusCode, 201, exact.body);
    assert.equal(await istsiBalance(whale), safeMaximum);
    await assertLedgerClean();
  });

  test('a movement that would take a system wallet past the BIGINT range is refused with 422 SUPPLY_LIMIT_EXCEEDED, not a 500', async () => {
    const customer = await loginCustomer(app);
    assert.equal((await topupIstsi(customer, 1)).statusCode, 201);
    const tenantId = customer.tenantId;
    const real = await cashInBalance(tenantId);
    const nearEdge = -(2n ** 63n - 1n) + 5n;
    const setCashIn = (value: bigint) =>
      withScope(database.db, { tenantId }, (transaction) =>
        sql`update wallets set balance = ${value.toString()}::bigint
          where tenant_id = ${tenantId} and system_purpose = 'cash_in' and asset_code = 'iSTSi'`.execute(
          transaction,
        ),
      );
    await setCashIn(nearEdge);
    try {
      const response = await topupIstsi(customer, 6);
      assert.equal(response.statusCode, 422, response.body);
      assert.equal(response.json().error.code, 'SUPPLY_LIMIT_EXCEEDED');
      assert.equal(await istsiBalance(customer), 1);
      assert.equal(await cashInBalance(tenantId), nearEdge);
    } finally {
      await setCashIn(real);
    }
    await assertLedgerClean();
  });

  test('the database refuses a customer balance or an entry past 2^53 − 1 even if the code were wrong', async () => {
    const customer = await loginCustomer(app);
    const tenantId = customer.tenantId;
    await assert.rejects(
      withScope(database.db, { tenantId }, (transaction) =>
        sql`update wallets set balance = 9007199254740992 where tenant_id = ${tenantId}
          and user_id = ${customer.userId}`.execute(transaction),
      ),
      /wallets_customer_balance_range/,
    );
  });
});
