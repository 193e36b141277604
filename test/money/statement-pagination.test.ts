import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { v7 as uuidV7 } from 'uuid';
import type { AppInstance } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { checkLedger } from '../../src/modules/ledger/ledger-check.ts';
import { bearer, type LoggedIn, type LoggedInCustomer, loginCustomer, loginStaff } from '../helpers/auth.ts';
import type { TestDatabase } from '../helpers/database.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

/**
 * Keyset pagination of statements (issue 7, item 7). The statement orders by (created_at, id); its
 * select list also names a text column `created_at`, and an unqualified ORDER BY name resolves to the
 * output column: rows were ordered by the millisecond text while the cursor compared the microsecond
 * timestamp, so an entry whose transaction started earlier in the same millisecond but whose id is
 * larger fell between pages.
 */
const config = loadConfig({ NODE_ENV: 'test' });

interface StatementPage {
  transactions: { id: string; created_at: string; amount: number }[];
  next_cursor: string | null;
}

/** Every entry of a statement, page by page, as the API returns them. */
async function pageThrough(app: AppInstance, who: LoggedIn, path: string, limit: number): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10_000; page += 1) {
    const query: URLSearchParams = new URLSearchParams({
      limit: String(limit),
      ...(cursor ? { cursor } : {}),
    });
    const response = await app.inject({ method: 'GET', url: `${path}?${query}`, headers: bearer(who) });
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json() as StatementPage;
    assert.ok(body.transactions.length <= limit);
    seen.push(...body.transactions.map((entry) => entry.id));
    cursor = body.next_cursor;
    if (cursor === null) return seen;
  }
  assert.fail('pagination did not end');
}

/**
 * Entries of one customer within a single millisecond whose id order is the reverse of their
 * created_at order: the shape concurrent transfers produce (created_at is the transaction's start, the
 * id is taken when the entry is written), made deterministic. Returns their ids newest first.
 */
async function entriesWithMicroseconds(
  database: TestDatabase,
  customer: LoggedInCustomer,
  count: number,
): Promise<string[]> {
  const ids = Array.from({ length: count }, () => uuidV7()).sort();
  return withScope(database.db, { tenantId: customer.tenantId }, async (transaction) => {
    const wallet = await transaction
      .selectFrom('wallets')
      .select(['id', 'entry_count'])
      .where('user_id', '=', customer.userId)
      .where('asset_code', '=', 'IDR')
      .executeTakeFirstOrThrow();
    const rows = ids.map((_, index) => ({
      tenant_id: customer.tenantId,
      // The earliest entry gets the largest id.
      id: ids[count - 1 - index] as string,
      user_id: customer.userId,
      wallet_id: wallet.id,
      asset_code: 'IDR',
      entry_sequence: wallet.entry_count + index + 1,
      type: 'topup' as const,
      amount: 100,
      balance_before: index * 100,
      balance_after: (index + 1) * 100,
      movement_id: uuidV7(),
      // Microseconds apart within one millisecond; a JS Date cannot carry them, so SQL computes them.
      created_at: sql<Date>`timestamptz '2026-06-01 10:00:00.123+00' + ${index} * interval '1 microsecond'`,
    }));
    await transaction.insertInto('transactions').values(rows).execute();
    return rows.map((row) => row.id).reverse();
  });
}

describe('statement keyset pagination', () => {
  // Its own database: the hand-made entries are not a balanced ledger, and the other test checks one.
  test('regression (issue 7.7): entries of one millisecond whose id order differs from their time order are each returned once, in order, with limit=1', async () => {
    const running = await startTestApp(config);
    try {
      const { app } = running;
      const customer = await loginCustomer(app);
      const expected = await entriesWithMicroseconds(running.database, customer, 12);
      for (const limit of [1, 5, 9, 100]) {
        const seen = await pageThrough(app, customer, '/v1/transactions', limit);
        assert.deepEqual(seen, expected, `limit=${limit}`);
      }
      const staff = await loginStaff(app, 'admin');
      const staffPath = `/v1/admin/users/${customer.userId}/transactions`;
      assert.deepEqual(await pageThrough(app, staff, staffPath, 1), expected, 'staff statement, limit=1');
    } finally {
      await running.close();
    }
  });

  test('a statement of entries posted concurrently pages without skipping or repeating, at limit=1 and limit=9', async () => {
    const running = await startTestApp(config);
    try {
      await concurrentStatement(running);
    } finally {
      await running.close();
    }
  });
});

async function concurrentStatement({ app, database }: TestApp): Promise<void> {
  const merchant = await loginCustomer(app);
  const senders = await Promise.all(Array.from({ length: 8 }, () => loginCustomer(app)));
  for (const sender of senders) {
    const funded = await app.inject({
      method: 'POST',
      url: '/v1/transactions/topup',
      headers: bearer(sender),
      payload: { amount: 10_000 },
    });
    assert.equal(funded.statusCode, 201, funded.body);
  }
  const transfers = senders.flatMap((sender) =>
    Array.from({ length: 4 }, () =>
      app.inject({
        method: 'POST',
        url: '/v1/transactions/transfer',
        headers: { ...bearer(sender), 'idempotency-key': randomUUID() },
        payload: { to_account_number: merchant.accountNumber, amount: 100 },
      }),
    ),
  );
  const responses = await Promise.all(transfers);
  for (const response of responses) assert.equal(response.statusCode, 201, response.body);
  const all = await pageThrough(app, merchant, '/v1/transactions', 100);
  assert.equal(all.length, 32);
  assert.equal(new Set(all).size, 32);
  assert.deepEqual(await pageThrough(app, merchant, '/v1/transactions', 1), all);
  assert.deepEqual(await pageThrough(app, merchant, '/v1/transactions', 9), all);
  const check = await checkLedger(database.db);
  assert.equal(check.problem, undefined, JSON.stringify(check.problem));
}
