import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { v7 as uuidV7 } from 'uuid';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { SystemWalletPurpose } from '../../src/db/schema.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { checkLedger } from '../../src/modules/ledger/ledger-check.ts';
import { postMovement } from '../../src/modules/ledger/ledger-posting.ts';
import { ensureSystemWallet } from '../../src/modules/wallets/wallets.repository.ts';
import { rolePermissions } from '../../src/platform/auth/permissions.ts';
import {
  bearer,
  ensureTenant,
  type LoggedIn,
  type LoggedInCustomer,
  loginCustomer,
  loginStaff,
} from '../helpers/auth.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';

/*
 * Issue 8 item 4: staff with disbursements:submit pay a batch of customers from a system wallet of
 * their tenant (cash_in: new money within the maker–checker threshold of the day; fees: what it
 * holds), all-or-none or each on its own, with the customer batch's validation and outcomes.
 */

const threshold = 100_000;
const config = loadConfig({ NODE_ENV: 'test', STAFF_TOPUP_APPROVAL_THRESHOLDS: `IDR:${threshold},USD:0` });
const url = '/v1/admin/disbursements';

let database: TestDatabase;
let app: AppInstance;
let tenantId: string;

before(async () => {
  database = await openTestDatabase();
  app = await buildApp({ config, database, logger: false });
  await app.ready();
  tenantId = await ensureTenant(app);
});

after(async () => {
  await app.close();
  await database.close();
});

interface ItemBody {
  index: number;
  reference: string | null;
  status: string;
  type?: string;
  amount?: number;
  user_id?: string;
  error?: { code: string; details?: { field?: string }[] };
}

interface DisbursementAnswer {
  disbursement_id: string;
  source: { wallet_id: string; purpose: string };
  atomic: boolean;
  status: string;
  completed: number;
  rejected: number;
  total_amount: number;
  items: ItemBody[];
}

interface ErrorBody {
  error: { code: string; message: string; details?: { field?: string; reason: string }[] };
}

function disburse(who: Pick<LoggedIn, 'accessToken'>, payload: unknown, key: string | null = randomUUID()) {
  return app.inject({
    method: 'POST',
    url,
    headers: { ...bearer(who), ...(key === null ? {} : { 'idempotency-key': key }) },
    payload: payload as Record<string, unknown>,
  });
}

function fieldsOf(response: { json(): unknown }): string[] {
  return (response.json() as ErrorBody).error.details?.map((detail) => detail.field ?? '') ?? [];
}

async function balanceOf(who: LoggedInCustomer): Promise<number> {
  const response = await app.inject({ method: 'GET', url: '/v1/me/balances', headers: bearer(who) });
  const balances = (response.json() as { balances: { asset: string; balance: number }[] }).balances;
  return balances.find((wallet) => wallet.asset === 'IDR')?.balance ?? 0;
}

async function systemWalletId(purpose: SystemWalletPurpose, scopeTenant = tenantId): Promise<string> {
  return withScope(database.db, { tenantId: scopeTenant }, (transaction) =>
    ensureSystemWallet(transaction, scopeTenant, 'IDR', purpose),
  );
}

/** A system wallet's balance, exactly (a cash-in balance is negative and may pass 2^53). */
async function systemBalance(purpose: SystemWalletPurpose): Promise<bigint> {
  const id = await systemWalletId(purpose);
  const result = await withScope(database.db, { tenantId }, (transaction) =>
    sql<{ balance: string }>`select balance::text as balance from wallets where id = ${id}`.execute(
      transaction,
    ),
  );
  return BigInt(result.rows[0]?.balance ?? '0');
}

/** Every ledger entry of the tenant: "nothing moves" means this count stays. */
async function entryCount(): Promise<number> {
  const result = await withScope(database.db, { tenantId }, (transaction) =>
    sql<{ count: number }>`select count(*)::int as count from transactions`.execute(transaction),
  );
  return result.rows[0]?.count ?? 0;
}

/** Collected fees to pay from: cash-in → fees, as a fee posting would leave them. */
async function fundFees(amount: number): Promise<void> {
  await withScope(database.db, { tenantId }, async (transaction) => {
    const cashIn = await ensureSystemWallet(transaction, tenantId, 'IDR', 'cash_in');
    const fees = await ensureSystemWallet(transaction, tenantId, 'IDR', 'fees');
    await postMovement(transaction, tenantId, uuidV7(), [
      { walletId: cashIn, delta: -amount, type: 'fee', counterpartyWalletId: fees },
      { walletId: fees, delta: amount, type: 'fee', counterpartyWalletId: cashIn },
    ]);
  });
}

/** Empties the fees wallet into cash-out, so a test knows exactly what it holds. */
async function drainFees(): Promise<void> {
  const balance = await systemBalance('fees');
  if (balance <= 0n) return;
  await withScope(database.db, { tenantId }, async (transaction) => {
    const fees = await ensureSystemWallet(transaction, tenantId, 'IDR', 'fees');
    const cashOut = await ensureSystemWallet(transaction, tenantId, 'IDR', 'cash_out');
    const amount = Number(balance);
    await postMovement(transaction, tenantId, uuidV7(), [
      { walletId: fees, delta: -amount, type: 'fee', counterpartyWalletId: cashOut },
      { walletId: cashOut, delta: amount, type: 'fee', counterpartyWalletId: fees },
    ]);
  });
}

async function assertLedgerClean(): Promise<void> {
  const result = await checkLedger(database.db);
  assert.equal(result.problem, undefined, JSON.stringify(result.problem));
}

async function disbursementAudits(disbursementId: string) {
  return withScope(database.db, { tenantId }, (transaction) =>
    transaction
      .selectFrom('audit_logs')
      .select(['action', 'admin_id', 'new_values'])
      .where('entity_type', '=', 'disbursement')
      .where('entity_id', '=', disbursementId)
      .execute(),
  );
}

async function disbursementAuditCount(): Promise<number> {
  const result = await withScope(database.db, { tenantId }, (transaction) =>
    sql<{
      count: number;
    }>`select count(*)::int as count from audit_logs where entity_type = 'disbursement'`.execute(transaction),
  );
  return result.rows[0]?.count ?? 0;
}

describe('POST /v1/admin/disbursements', () => {
  test('the permission is an admin (and super admin) one, never a customer’s, an officer’s or a manager’s', () => {
    const holders = Object.entries(rolePermissions)
      .filter(([, permissions]) => (permissions as readonly string[]).includes('disbursements:submit'))
      .map(([role]) => role)
      .sort();
    assert.deepEqual(holders, ['admin', 'super_admin']);
  });

  test('an atomic batch from fees pays every item in order, writes one audit row, and the fees wallet pays it', async () => {
    await drainFees();
    await fundFees(10_000);
    const admin = await loginStaff(app, 'admin');
    const [bob, carol] = [await loginCustomer(app), await loginCustomer(app)];
    const response = await disburse(admin, {
      source: 'fees',
      atomic: true,
      transfers: [
        { to_account_number: bob.accountNumber, amount: 1_000, reference: 'a' },
        { to_account_number: carol.accountNumber, amount: 2_000, description: 'Cashback' },
        { to_account_number: bob.accountNumber, amount: 3_000, reference: 'c' },
      ],
    });
    assert.equal(response.statusCode, 201, response.body);
    const body = response.json() as DisbursementAnswer;
    assert.deepEqual(
      [body.atomic, body.status, body.completed, body.rejected, body.total_amount, body.source.purpose],
      [true, 'completed', 3, 0, 6_000, 'fees'],
    );
    assert.equal(body.source.wallet_id, await systemWalletId('fees'));
    assert.deepEqual(
      body.items.map((item) => [item.index, item.reference, item.status, item.type, item.user_id]),
      [
        [0, 'a', 'completed', 'transfer_in', bob.userId],
        [1, null, 'completed', 'transfer_in', carol.userId],
        [2, 'c', 'completed', 'transfer_in', bob.userId],
      ],
    );
    assert.deepEqual([await balanceOf(bob), await balanceOf(carol)], [4_000, 2_000]);
    assert.equal(await systemBalance('fees'), 4_000n);
    const audits = await disbursementAudits(body.disbursement_id);
    assert.equal(audits.length, 1);
    assert.equal(audits[0]?.action, 'DISBURSEMENT');
    assert.equal(audits[0]?.admin_id, admin.userId);
    assert.deepEqual(audits[0]?.new_values, {
      source_wallet: body.source.wallet_id,
      source_purpose: 'fees',
      asset: 'IDR',
      atomic: true,
      count: 3,
      completed: 3,
      rejected: 0,
      total_amount: 6_000,
    });
    await assertLedgerClean();
  });

  test('an atomic batch with one failing item moves nothing, names the item by index and code, and replays that answer', async () => {
    await fundFees(10_000);
    const admin = await loginStaff(app, 'admin');
    const bob = await loginCustomer(app);
    const [entriesBefore, feesBefore, auditsBefore] = [
      await entryCount(),
      await systemBalance('fees'),
      await disbursementAuditCount(),
    ];
    const batch = {
      source: 'fees',
      atomic: true,
      transfers: [
        { to_account_number: bob.accountNumber, amount: 1_000 },
        { to_account_number: '99999999999999', amount: 10 },
        { to_account_number: bob.accountNumber, amount: 1 },
      ],
    };
    const response = await disburse(admin, batch, 'atomic-refused');
    assert.equal(response.statusCode, 404, response.body);
    const body = response.json() as ErrorBody;
    assert.equal(body.error.code, 'RECIPIENT_NOT_FOUND');
    assert.deepEqual(fieldsOf(response), ['body.transfers.1.to_account_number']);
    assert.match(body.error.message, /^Transfer 1 of the batch was refused, so none was made/);
    const replay = await disburse(admin, batch, 'atomic-refused');
    assert.equal(replay.statusCode, 404);
    assert.deepEqual((replay.json() as ErrorBody).error.details, body.error.details);
    assert.equal(await balanceOf(bob), 0);
    assert.deepEqual(
      [await entryCount(), await systemBalance('fees'), await disbursementAuditCount()],
      [entriesBefore, feesBefore, auditsBefore],
    );
    await assertLedgerClean();
  });

  test('a non-atomic batch gives each item its outcome: unknown, blocked, staff and over-the-tier recipients are refused, the others paid', async () => {
    await fundFees(2_000_000_000);
    const admin = await loginStaff(app, 'admin');
    const [bob, blocked, rich] = [
      await loginCustomer(app),
      await loginCustomer(app),
      await loginCustomer(app),
    ];
    const colleague = await loginStaff(app, 'officer');
    await withScope(database.db, { tenantId }, async (transaction) => {
      await transaction.updateTable('users').set({ status: 2 }).where('id', '=', blocked.userId).execute();
      // A staff member holding a customer wallet (an account number) must still never be credited.
      await transaction
        .insertInto('wallets')
        .values({
          tenant_id: tenantId,
          user_id: colleague.userId,
          asset_code: 'IDR',
          kind: 'customer',
          account_number: '77777777777777',
        })
        .execute();
    });
    const tierMaximum = config.money.kycTierLimits[0].maximumBalanceMinor;
    const response = await disburse(admin, {
      source: 'fees',
      atomic: false,
      transfers: [
        { to_account_number: bob.accountNumber, amount: 1_000, reference: 'ok-1' },
        { to_account_number: '99999999999999', amount: 10 },
        { to_account_number: blocked.accountNumber, amount: 10 },
        { to_account_number: '77777777777777', amount: 10 },
        { to_account_number: rich.accountNumber, amount: tierMaximum },
        { to_account_number: rich.accountNumber, amount: 1, reference: 'over' },
        { to_account_number: bob.accountNumber, amount: 500, reference: 'ok-2' },
      ],
    });
    assert.equal(response.statusCode, 201, response.body);
    const body = response.json() as DisbursementAnswer;
    assert.deepEqual(
      body.items.map((item) => item.error?.code ?? item.status),
      [
        'completed',
        'RECIPIENT_NOT_FOUND',
        'RECIPIENT_BLOCKED',
        'SEGREGATION_OF_DUTIES',
        'completed',
        'KYC_LIMIT_EXCEEDED',
        'completed',
      ],
    );
    assert.deepEqual(
      body.items.map((item) => item.error?.details?.[0]?.field ?? null),
      [
        null,
        'body.transfers.1.to_account_number',
        'body.transfers.2.to_account_number',
        'body.transfers.3.to_account_number',
        null,
        'body.transfers.5.amount',
        null,
      ],
    );
    assert.deepEqual(
      [body.status, body.completed, body.rejected, body.total_amount],
      ['partial', 3, 4, 1_500 + tierMaximum],
    );
    assert.deepEqual(
      [await balanceOf(bob), await balanceOf(blocked), await balanceOf(rich)],
      [1_500, 0, tierMaximum],
    );
    const audits = await disbursementAudits(body.disbursement_id);
    assert.deepEqual(
      [audits.length, (audits[0]?.new_values as { completed: number; rejected: number } | null)?.rejected],
      [1, 4],
    );
    await assertLedgerClean();
  });

  test('a non-atomic batch whose every item is refused is status rejected and moves nothing', async () => {
    const admin = await loginStaff(app, 'admin');
    const entriesBefore = await entryCount();
    const response = await disburse(admin, {
      source: 'fees',
      atomic: false,
      transfers: [
        { to_account_number: '99999999999998', amount: 10 },
        { to_account_number: '99999999999999', amount: 10 },
      ],
    });
    assert.equal(response.statusCode, 201, response.body);
    const body = response.json() as DisbursementAnswer;
    assert.deepEqual([body.status, body.completed, body.rejected], ['rejected', 0, 2]);
    assert.equal(await entryCount(), entriesBefore);
  });

  test('a non-atomic item refused after opening the recipient’s wallet leaves no wallet behind (its savepoint is undone), the next item posts', async () => {
    // USD is the KYC-limited asset here, so a first USD credit opens the wallet before the tier rule refuses it.
    const limited = await buildApp({
      config: loadConfig({ NODE_ENV: 'test', KYC_LIMITED_ASSET: 'USD', KYC_TIER0_MAX_BALANCE: '1000' }),
      database,
      logger: false,
    });
    await limited.ready();
    try {
      await withScope(database.db, { tenantId }, async (transaction) => {
        const cashIn = await ensureSystemWallet(transaction, tenantId, 'USD', 'cash_in');
        const fees = await ensureSystemWallet(transaction, tenantId, 'USD', 'fees');
        await postMovement(transaction, tenantId, uuidV7(), [
          { walletId: cashIn, delta: -5_000, type: 'fee', counterpartyWalletId: fees },
          { walletId: fees, delta: 5_000, type: 'fee', counterpartyWalletId: cashIn },
        ]);
      });
      const admin = await loginStaff(limited, 'admin');
      const [carol, dave] = [await loginCustomer(limited), await loginCustomer(limited)];
      const response = await limited.inject({
        method: 'POST',
        url,
        headers: { ...bearer(admin), 'idempotency-key': randomUUID() },
        payload: {
          source: 'fees',
          asset: 'USD',
          atomic: false,
          transfers: [
            { to_account_number: dave.accountNumber, amount: 1_001 },
            { to_account_number: carol.accountNumber, amount: 500 },
          ],
        },
      });
      assert.equal(response.statusCode, 201, response.body);
      assert.deepEqual(
        (response.json() as DisbursementAnswer).items.map((item) => item.error?.code ?? item.status),
        ['KYC_LIMIT_EXCEEDED', 'completed'],
      );
      const usdWallets = await withScope(database.db, { tenantId }, (transaction) =>
        transaction
          .selectFrom('wallets')
          .select(['user_id', 'balance'])
          .where('asset_code', '=', 'USD')
          .where('user_id', 'in', [carol.userId, dave.userId])
          .execute(),
      );
      assert.deepEqual(usdWallets, [{ user_id: carol.userId, balance: 500 }]);
      await assertLedgerClean();
    } finally {
      await limited.close();
    }
  });

  test('a customer (even one given the permission by users.permissions), an officer and a manager get 403 and nothing moves; a manager given it may', async () => {
    await fundFees(10_000);
    const bob = await loginCustomer(app);
    const customer = await loginCustomer(app);
    await withScope(database.db, { tenantId }, (transaction) =>
      transaction
        .updateTable('users')
        .set({ permissions: ['disbursements:submit'] })
        .where('id', '=', customer.userId)
        .execute(),
    );
    const batch = {
      source: 'fees',
      atomic: true,
      transfers: [{ to_account_number: bob.accountNumber, amount: 100 }],
    };
    const entriesBefore = await entryCount();
    for (const who of [
      await loginCustomer(app),
      customer,
      await loginStaff(app, 'officer'),
      await loginStaff(app, 'manager'),
    ]) {
      const response = await disburse(who, batch);
      assert.equal(response.statusCode, 403, response.body);
      assert.equal((response.json() as ErrorBody).error.code, 'FORBIDDEN');
    }
    assert.equal(await entryCount(), entriesBefore);
    assert.equal(await balanceOf(bob), 0);
    const granted = await loginStaff(app, 'manager', { permissions: ['disbursements:submit'] });
    const allowed = await disburse(granted, batch);
    assert.equal(allowed.statusCode, 201, allowed.body);
    assert.equal(await balanceOf(bob), 100);
  });

  test('the same key replays the batch without paying again; another body under it is IDEMPOTENCY_KEY_REUSED', async () => {
    await fundFees(10_000);
    const admin = await loginStaff(app, 'admin');
    const bob = await loginCustomer(app);
    const batch = {
      source: 'fees',
      atomic: true,
      transfers: [{ to_account_number: bob.accountNumber, amount: 700 }],
    };
    const first = await disburse(admin, batch, 'replayed');
    const second = await disburse(admin, batch, 'replayed');
    assert.equal(first.statusCode, 201, first.body);
    assert.equal(second.statusCode, 201, second.body);
    assert.deepEqual(second.json(), first.json());
    const other = await disburse(admin, { ...batch, atomic: false }, 'replayed');
    assert.equal(other.statusCode, 409, other.body);
    assert.equal((other.json() as ErrorBody).error.code, 'IDEMPOTENCY_KEY_REUSED');
    assert.equal(await balanceOf(bob), 700);
  });

  test('20 identical requests at once under one key pay once and all answer alike', async () => {
    await fundFees(10_000);
    const admin = await loginStaff(app, 'admin');
    const bob = await loginCustomer(app);
    const feesBefore = await systemBalance('fees');
    const entriesBefore = await entryCount();
    const batch = {
      source: 'fees',
      atomic: true,
      transfers: [
        { to_account_number: bob.accountNumber, amount: 100 },
        { to_account_number: bob.accountNumber, amount: 200 },
      ],
    };
    const answers = await Promise.all(Array.from({ length: 20 }, () => disburse(admin, batch, 'burst')));
    for (const answer of answers) assert.equal(answer.statusCode, 201, answer.body);
    const bodies = new Set(answers.map((answer) => answer.body));
    assert.equal(bodies.size, 1, 'one stored response replayed');
    assert.equal(await balanceOf(bob), 300);
    assert.equal(await systemBalance('fees'), feesBefore - 300n);
    assert.equal(await entryCount(), entriesBefore + 4);
    await assertLedgerClean();
  });

  test('fees holding less than a batch pays: atomic refused with nothing moved; non-atomic refuses the item it cannot cover; fees never goes negative', async () => {
    await drainFees();
    await fundFees(1_000);
    const admin = await loginStaff(app, 'admin');
    const bob = await loginCustomer(app);
    const entriesBefore = await entryCount();
    const refused = await disburse(admin, {
      source: 'fees',
      atomic: true,
      transfers: [
        { to_account_number: bob.accountNumber, amount: 600 },
        { to_account_number: bob.accountNumber, amount: 600 },
      ],
    });
    assert.equal(refused.statusCode, 422, refused.body);
    assert.equal((refused.json() as ErrorBody).error.code, 'INSUFFICIENT_FUNDS');
    assert.deepEqual(fieldsOf(refused), ['body.transfers.1.amount']);
    assert.deepEqual(
      [await entryCount(), await systemBalance('fees'), await balanceOf(bob)],
      [entriesBefore, 1_000n, 0],
    );
    const each = await disburse(admin, {
      source: 'fees',
      atomic: false,
      transfers: [
        { to_account_number: bob.accountNumber, amount: 600 },
        { to_account_number: bob.accountNumber, amount: 600 },
        { to_account_number: bob.accountNumber, amount: 400 },
      ],
    });
    assert.equal(each.statusCode, 201, each.body);
    assert.deepEqual(
      (each.json() as DisbursementAnswer).items.map((item) => item.error?.code ?? item.status),
      ['completed', 'INSUFFICIENT_FUNDS', 'completed'],
    );
    assert.deepEqual([await systemBalance('fees'), await balanceOf(bob)], [0n, 1_000]);
    const empty = await disburse(admin, {
      source: await systemWalletId('fees'),
      atomic: true,
      transfers: [{ to_account_number: bob.accountNumber, amount: 1 }],
    });
    assert.equal(empty.statusCode, 422, empty.body);
    assert.equal(await systemBalance('fees'), 0n);
    await assertLedgerClean();
  });

  test('from cash_in the batch total counts against the staff member’s day: above the threshold refused (atomic or not) with nothing moved, within it paid, rejected items given back', async () => {
    const admin = await loginStaff(app, 'admin');
    const bob = await loginCustomer(app);
    const cashInBefore = await systemBalance('cash_in');
    const entriesBefore = await entryCount();
    for (const atomic of [true, false]) {
      const above = await disburse(admin, {
        source: 'cash_in',
        atomic,
        transfers: [
          { to_account_number: bob.accountNumber, amount: threshold },
          { to_account_number: bob.accountNumber, amount: 1 },
        ],
      });
      assert.equal(above.statusCode, 403, above.body);
      assert.equal((above.json() as ErrorBody).error.code, 'APPROVAL_REQUIRED');
      assert.deepEqual(fieldsOf(above), ['body.transfers']);
    }
    assert.deepEqual([await entryCount(), await balanceOf(bob)], [entriesBefore, 0]);
    // Within the threshold: paid from cash_in as top-ups; the refused item is given back to the day.
    const within = await disburse(admin, {
      source: 'cash_in',
      atomic: false,
      transfers: [
        { to_account_number: bob.accountNumber, amount: 60_000 },
        { to_account_number: '99999999999999', amount: 30_000 },
      ],
    });
    assert.equal(within.statusCode, 201, within.body);
    const body = within.json() as DisbursementAnswer;
    assert.deepEqual([body.status, body.items[0]?.type, body.total_amount], ['partial', 'topup', 60_000]);
    assert.equal(await balanceOf(bob), 60_000);
    assert.equal(await systemBalance('cash_in'), cashInBefore - 60_000n);
    const rest = await disburse(admin, {
      source: await systemWalletId('cash_in'),
      atomic: true,
      transfers: [{ to_account_number: bob.accountNumber, amount: 40_000 }],
    });
    assert.equal(rest.statusCode, 201, rest.body);
    const past = await disburse(admin, {
      source: 'cash_in',
      atomic: true,
      transfers: [{ to_account_number: bob.accountNumber, amount: 1 }],
    });
    assert.equal(past.statusCode, 403, past.body);
    assert.equal((past.json() as ErrorBody).error.code, 'APPROVAL_REQUIRED');
    // The day total is shared with staff top-ups: a direct top-up now waits for a checker.
    const topup = await app.inject({
      method: 'POST',
      url: `/v1/admin/users/${bob.userId}/topup`,
      headers: bearer(admin),
      payload: { amount: 1 },
    });
    assert.equal(topup.statusCode, 202, topup.body);
    assert.equal(await balanceOf(bob), 100_000);
    await assertLedgerClean();
  });

  test('an asset without a threshold (USD: 0) is never issued from cash_in', async () => {
    const admin = await loginStaff(app, 'admin');
    const bob = await loginCustomer(app);
    const response = await disburse(admin, {
      source: 'cash_in',
      asset: 'USD',
      atomic: true,
      transfers: [{ to_account_number: bob.accountNumber, amount: 1 }],
    });
    assert.equal(response.statusCode, 403, response.body);
    assert.equal((response.json() as ErrorBody).error.code, 'APPROVAL_REQUIRED');
  });

  test('a recipient of another tenant is not found, as a customer batch answers; another tenant’s wallet, a customer wallet and cash_out are no source', async () => {
    await fundFees(10_000);
    const admin = await loginStaff(app, 'admin');
    const otherTenant = await ensureTenant(app, 'disbursement-other');
    const stranger = await loginCustomer(app, { tenantId: otherTenant });
    const bob = await loginCustomer(app);
    const entriesBefore = await entryCount();
    const foreign = await disburse(admin, {
      source: 'fees',
      atomic: true,
      transfers: [{ to_account_number: stranger.accountNumber, amount: 10 }],
    });
    assert.equal(foreign.statusCode, 404, foreign.body);
    assert.equal((foreign.json() as ErrorBody).error.code, 'RECIPIENT_NOT_FOUND');
    assert.deepEqual(fieldsOf(foreign), ['body.transfers.0.to_account_number']);
    // The customer batch gives the same answer for the same account number.
    const payer = await loginCustomer(app);
    const customerBatch = await app.inject({
      method: 'POST',
      url: '/v1/transactions/batch',
      headers: bearer(payer),
      payload: { atomic: true, transfers: [{ to_account_number: stranger.accountNumber, amount: 10 }] },
    });
    assert.equal((customerBatch.json() as ErrorBody).error.code, 'RECIPIENT_NOT_FOUND');
    assert.deepEqual(fieldsOf(customerBatch), fieldsOf(foreign));

    const bobWallet = await withScope(database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('wallets')
        .select('id')
        .where('user_id', '=', bob.userId)
        .executeTakeFirstOrThrow(),
    );
    const sources: [string, number, string][] = [
      [await systemWalletId('fees', otherTenant), 404, 'NOT_FOUND'],
      [bobWallet.id, 404, 'NOT_FOUND'],
      [await systemWalletId('cash_out'), 400, 'VALIDATION_FAILED'],
      ['cash_out', 400, 'VALIDATION_FAILED'],
    ];
    for (const [source, status, code] of sources) {
      const response = await disburse(admin, {
        source,
        atomic: true,
        transfers: [{ to_account_number: bob.accountNumber, amount: 10 }],
      });
      assert.equal(response.statusCode, status, `${source}: ${response.body}`);
      assert.equal((response.json() as ErrorBody).error.code, code);
      assert.ok(
        fieldsOf(response).some((field) => field.startsWith('body.source')),
        `${source}: ${response.body}`,
      );
    }
    const usdFees = await disburse(admin, {
      source: await systemWalletId('fees'),
      asset: 'USD',
      atomic: true,
      transfers: [{ to_account_number: bob.accountNumber, amount: 10 }],
    });
    assert.equal(usdFees.statusCode, 400, usdFees.body);
    assert.deepEqual(fieldsOf(usdFees), ['body.source']);
    assert.equal(await entryCount(), entriesBefore);
  });

  test('over 1,000 items, a duplicate reference, a fractional, negative or too large amount, an unknown field, a NUL, no key: 400 naming the item and field, nothing moves', async () => {
    await fundFees(10_000);
    const admin = await loginStaff(app, 'admin');
    const bob = await loginCustomer(app);
    const item = { to_account_number: bob.accountNumber, amount: 1 };
    const batch = (transfers: unknown[], extra: Record<string, unknown> = {}) => ({
      source: 'fees',
      atomic: false,
      transfers,
      ...extra,
    });
    const cases: [unknown, string, string | null][] = [
      [batch(Array.from({ length: 1001 }, () => item)), 'body.transfers', randomUUID()],
      [
        batch([{ ...item, reference: 'x' }, item, { ...item, reference: 'x' }]),
        'body.transfers.2.reference',
        randomUUID(),
      ],
      [batch([item, { ...item, amount: 1.5 }]), 'body.transfers.1.amount', randomUUID()],
      [batch([item, item, { ...item, amount: -3 }]), 'body.transfers.2.amount', randomUUID()],
      [batch([item, { ...item, amount: 100_000_000_000_001 }]), 'body.transfers.1.amount', randomUUID()],
      [batch([item, { ...item, colour: 'red' }]), 'body.transfers.1', randomUUID()],
      [batch([item, { ...item, description: 'a\u0000b' }]), 'body.transfers.1.description', randomUUID()],
      [batch([item], { extra: 1 }), 'body', randomUUID()],
      [batch([]), 'body.transfers', randomUUID()],
      [batch([item]), 'headers.idempotency-key', null],
    ];
    const entriesBefore = await entryCount();
    for (const [payload, field, key] of cases) {
      const response = await disburse(admin, payload, key);
      assert.equal(response.statusCode, 400, `${field}: ${response.body}`);
      assert.equal((response.json() as ErrorBody).error.code, 'VALIDATION_FAILED');
      const fields = fieldsOf(response);
      assert.ok(
        fields.some((named) => named.startsWith(field)),
        `${field} not named in ${JSON.stringify(fields)}`,
      );
    }
    assert.deepEqual([await entryCount(), await balanceOf(bob)], [entriesBefore, 0]);
  });

  test('a batch of 1,000 items posts whole, and the ledger proves itself after everything above', async () => {
    await fundFees(1_000_000);
    const admin = await loginStaff(app, 'admin');
    const [bob, carol] = [await loginCustomer(app), await loginCustomer(app)];
    const transfers = Array.from({ length: 1000 }, (_, index) => ({
      to_account_number: index % 2 === 0 ? bob.accountNumber : carol.accountNumber,
      amount: 1 + (index % 3),
      reference: `item-${index}`,
      description: 'x'.repeat(400),
    }));
    const response = await disburse(admin, { source: 'fees', atomic: false, transfers });
    assert.equal(response.statusCode, 201, response.body.slice(0, 500));
    const body = response.json() as DisbursementAnswer;
    const expected = transfers.reduce((sum, item) => sum + item.amount, 0);
    assert.deepEqual([body.status, body.completed, body.total_amount], ['completed', 1000, expected]);
    assert.equal((await balanceOf(bob)) + (await balanceOf(carol)), expected);
    await assertLedgerClean();
  });
});
