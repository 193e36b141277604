import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { endStaffHold, placeStaffHold } from '../../src/modules/holds/holds.service.ts';
import { checkLedger } from '../../src/modules/ledger/ledger-check.ts';
import type { MoneyServices } from '../../src/modules/ledger/money-services.ts';
import { createSimulatedBank } from '../../src/modules/payouts/payout-provider.ts';
import { runPayoutWorker } from '../../src/modules/payouts/payout-worker.ts';
import { topup } from '../../src/modules/transactions/topups.service.ts';
import { transfer } from '../../src/modules/transfers/transfers.service.ts';
import { requestWithdrawal } from '../../src/modules/withdrawals/withdrawals.service.ts';
import { AppError } from '../../src/platform/errors.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';
import {
  createCustomer,
  createStaff,
  createTenant,
  type TestCustomer,
  testMoneyConfig,
} from './money-fixtures.ts';

let database: TestDatabase;
let services: MoneyServices;
let tenantId: string;

before(async () => {
  database = await openTestDatabase();
  services = { db: database.db, money: testMoneyConfig() };
  tenantId = await createTenant(database.db);
});

after(async () => {
  await database.close();
});

async function balanceOf(
  customer: TestCustomer,
  asset = 'IDR',
): Promise<{ balance: number; locked: number }> {
  return withScope(database.db, { tenantId }, (transaction) =>
    transaction
      .selectFrom('wallets')
      .select(['balance', 'locked'])
      .where('user_id', '=', customer.userId)
      .where('asset_code', '=', asset)
      .executeTakeFirstOrThrow(),
  );
}

async function rejects(work: Promise<unknown>, code: string, field?: string): Promise<void> {
  await assert.rejects(work, (error: unknown) => {
    assert.ok(error instanceof AppError, `expected AppError ${code}, got ${String(error)}`);
    assert.equal(error.code, code);
    if (field)
      assert.ok(
        error.details?.some((detail) => detail.field === field),
        `detail names ${field}`,
      );
    return true;
  });
}

async function fund(customer: TestCustomer, amount: number): Promise<void> {
  await topup(services, customer.principal, customer.audit, undefined, customer.userId, { amount });
}

async function assertLedgerClean(): Promise<void> {
  const result = await checkLedger(database.db);
  assert.equal(result.problem, undefined, JSON.stringify(result.problem));
}

describe('top-up and transfer', () => {
  test('a top-up credits the caller from cash-in and a transfer writes transfer_out and transfer_in', async () => {
    const alice = await createCustomer(database.db, tenantId);
    const bob = await createCustomer(database.db, tenantId);
    const credited = await topup(services, alice.principal, alice.audit, 'k-topup-1', alice.userId, {
      amount: 10_000,
    });
    assert.equal(credited.status, 201);
    assert.equal(credited.body.balance_after, 10_000);
    const sent = await transfer(services, alice.principal, alice.audit, 'k-transfer-1', {
      to_account_number: bob.accountNumber,
      amount: 2_500,
      description: 'lunch',
    });
    assert.equal(sent.status, 201);
    assert.equal(sent.body.balance_before, 10_000);
    assert.equal(sent.body.balance_after, 7_500);
    assert.deepEqual(await balanceOf(alice), { balance: 7_500, locked: 0 });
    assert.deepEqual(await balanceOf(bob), { balance: 2_500, locked: 0 });
    const entries = await withScope(database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('transactions')
        .select(['type', 'amount', 'user_id'])
        .where('movement_id', '=', sent.body.transaction_id as string)
        .orderBy('type')
        .execute(),
    );
    assert.deepEqual(entries, [
      { type: 'transfer_in', amount: 2_500, user_id: bob.userId },
      { type: 'transfer_out', amount: 2_500, user_id: alice.userId },
    ]);
    await assertLedgerClean();
  });

  test("a BTC transfer opens the recipient's BTC wallet on first credit, under their one account number", async () => {
    const alice = await createCustomer(database.db, tenantId);
    const bob = await createCustomer(database.db, tenantId);
    await topup(services, alice.principal, alice.audit, undefined, alice.userId, {
      amount: 10_000_000,
      asset: 'BTC',
    });
    const sent = await transfer(services, alice.principal, alice.audit, undefined, {
      to_account_number: bob.accountNumber,
      amount: 2_500_000,
      asset: 'BTC',
    });
    assert.equal(sent.body.asset, 'BTC');
    assert.deepEqual(await balanceOf(bob, 'BTC'), { balance: 2_500_000, locked: 0 });
    assert.deepEqual(await balanceOf(bob, 'IDR'), { balance: 0, locked: 0 });
    const numbers = await withScope(database.db, { tenantId }, (transaction) =>
      transaction.selectFrom('wallets').select('account_number').where('user_id', '=', bob.userId).execute(),
    );
    assert.deepEqual(new Set(numbers.map((row) => row.account_number)), new Set([bob.accountNumber]));
    await assertLedgerClean();
  });

  test('a transfer above the available balance is INSUFFICIENT_FUNDS and moves nothing', async () => {
    const alice = await createCustomer(database.db, tenantId);
    const bob = await createCustomer(database.db, tenantId);
    await fund(alice, 1_000);
    await rejects(
      transfer(services, alice.principal, alice.audit, undefined, {
        to_account_number: bob.accountNumber,
        amount: 1_001,
      }),
      'INSUFFICIENT_FUNDS',
    );
    assert.deepEqual(await balanceOf(alice), { balance: 1_000, locked: 0 });
    assert.deepEqual(await balanceOf(bob), { balance: 0, locked: 0 });
  });

  test('amounts beyond the asset maximum are rejected naming body.amount', async () => {
    const alice = await createCustomer(database.db, tenantId);
    await rejects(
      topup(services, alice.principal, alice.audit, undefined, alice.userId, { amount: 100_000_000_000_001 }),
      'VALIDATION_FAILED',
      'body.amount',
    );
    await rejects(
      topup(services, alice.principal, alice.audit, undefined, alice.userId, { amount: 0 }),
      'VALIDATION_FAILED',
      'body.amount',
    );
    await rejects(
      topup(services, alice.principal, alice.audit, undefined, alice.userId, { amount: 1.5 }),
      'VALIDATION_FAILED',
      'body.amount',
    );
    await rejects(
      topup(services, alice.principal, alice.audit, undefined, alice.userId, { amount: 5, asset: 'XYZ' }),
      'VALIDATION_FAILED',
      'body.asset',
    );
  });

  test('a blocked user cannot move money and a blocked recipient cannot receive', async () => {
    const blocked = await createCustomer(database.db, tenantId, { status: 2 });
    const alice = await createCustomer(database.db, tenantId);
    await fund(alice, 500);
    await rejects(
      topup(services, blocked.principal, blocked.audit, undefined, blocked.userId, { amount: 5 }),
      'ACCOUNT_BLOCKED',
    );
    await rejects(
      transfer(services, blocked.principal, blocked.audit, undefined, {
        to_account_number: alice.accountNumber,
        amount: 5,
      }),
      'ACCOUNT_BLOCKED',
    );
    await rejects(
      transfer(services, alice.principal, alice.audit, undefined, {
        to_account_number: blocked.accountNumber,
        amount: 5,
      }),
      'RECIPIENT_BLOCKED',
    );
    await rejects(
      transfer(services, alice.principal, alice.audit, undefined, {
        to_account_number: alice.accountNumber,
        amount: 5,
      }),
      'SELF_TRANSFER',
    );
    await rejects(
      transfer(services, alice.principal, alice.audit, undefined, {
        to_account_number: '99999999999',
        amount: 5,
      }),
      'RECIPIENT_NOT_FOUND',
      'body.to_account_number',
    );
  });

  test('maintenance mode stops money movement with MAINTENANCE_MODE, from config or the tenant configs table', async () => {
    const alice = await createCustomer(database.db, tenantId);
    const paused: MoneyServices = { db: database.db, money: testMoneyConfig({ maintenanceMode: true }) };
    await rejects(
      topup(paused, alice.principal, alice.audit, undefined, alice.userId, { amount: 5 }),
      'MAINTENANCE_MODE',
    );
    const otherTenant = await createTenant(database.db);
    const carol = await createCustomer(database.db, otherTenant);
    await withScope(database.db, { tenantId: otherTenant }, (transaction) =>
      transaction
        .insertInto('configs')
        .values({ tenant_id: otherTenant, key: 'maintenance_mode', value: 'true' })
        .execute(),
    );
    await rejects(
      topup(services, carol.principal, carol.audit, undefined, carol.userId, { amount: 5 }),
      'MAINTENANCE_MODE',
    );
  });

  test('KYC tier limits: single maximum, daily outgoing and maximum balance are KYC_LIMIT_EXCEEDED', async () => {
    const limited: MoneyServices = {
      db: database.db,
      money: testMoneyConfig({
        kycTierLimits: [
          { maximumBalanceMinor: 10_000, dailyOutgoingMinor: 3_000, singleTransferMaximumMinor: 2_000 },
          { maximumBalanceMinor: 10_000, dailyOutgoingMinor: 3_000, singleTransferMaximumMinor: 2_000 },
          { maximumBalanceMinor: 10_000, dailyOutgoingMinor: 3_000, singleTransferMaximumMinor: 2_000 },
        ],
      }),
    };
    const alice = await createCustomer(database.db, tenantId, { kycTier: 0 });
    const bob = await createCustomer(database.db, tenantId, { kycTier: 0 });
    await topup(limited, alice.principal, alice.audit, undefined, alice.userId, { amount: 9_000 });
    await rejects(
      topup(limited, alice.principal, alice.audit, undefined, alice.userId, { amount: 1_001 }),
      'KYC_LIMIT_EXCEEDED',
    );
    await rejects(
      transfer(limited, alice.principal, alice.audit, undefined, {
        to_account_number: bob.accountNumber,
        amount: 2_001,
      }),
      'KYC_LIMIT_EXCEEDED',
    );
    await transfer(limited, alice.principal, alice.audit, undefined, {
      to_account_number: bob.accountNumber,
      amount: 2_000,
    });
    await rejects(
      transfer(limited, alice.principal, alice.audit, undefined, {
        to_account_number: bob.accountNumber,
        amount: 1_001,
      }),
      'KYC_LIMIT_EXCEEDED',
    );
    await transfer(limited, alice.principal, alice.audit, undefined, {
      to_account_number: bob.accountNumber,
      amount: 1_000,
    });
    // Other assets are not tier-limited.
    await topup(limited, alice.principal, alice.audit, undefined, alice.userId, {
      amount: 50_000,
      asset: 'BTC',
    });
  });
});

describe('idempotency', () => {
  test('the same key and body replays the original response; a different body is IDEMPOTENCY_KEY_REUSED', async () => {
    const alice = await createCustomer(database.db, tenantId);
    const bob = await createCustomer(database.db, tenantId);
    await fund(alice, 10_000);
    const body = { to_account_number: bob.accountNumber, amount: 700 };
    const first = await transfer(services, alice.principal, alice.audit, 'same-key', body);
    const second = await transfer(services, alice.principal, alice.audit, 'same-key', {
      amount: 700,
      to_account_number: bob.accountNumber,
    });
    assert.deepEqual(second, first);
    assert.deepEqual(await balanceOf(bob), { balance: 700, locked: 0 });
    await rejects(
      transfer(services, alice.principal, alice.audit, 'same-key', { ...body, amount: 701 }),
      'IDEMPOTENCY_KEY_REUSED',
    );
    // Keys are scoped to the caller: Bob may use the same key for his own request.
    const bobs = await transfer(services, bob.principal, bob.audit, 'same-key', {
      to_account_number: alice.accountNumber,
      amount: 100,
    });
    assert.notEqual(bobs.body.transaction_id, first.body.transaction_id);
  });

  test('racing duplicates of one key produce one transfer', async () => {
    const alice = await createCustomer(database.db, tenantId);
    const bob = await createCustomer(database.db, tenantId);
    await fund(alice, 10_000);
    const body = { to_account_number: bob.accountNumber, amount: 300 };
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => transfer(services, alice.principal, alice.audit, 'race-key', body)),
    );
    for (const response of responses) assert.deepEqual(response, responses[0]);
    assert.deepEqual(await balanceOf(bob), { balance: 300, locked: 0 });
  });

  test('a rejected request is stored: its retry gets the same rejection even after funds arrive', async () => {
    const alice = await createCustomer(database.db, tenantId);
    const bob = await createCustomer(database.db, tenantId);
    const body = { to_account_number: bob.accountNumber, amount: 300 };
    await rejects(transfer(services, alice.principal, alice.audit, 'poor-key', body), 'INSUFFICIENT_FUNDS');
    await fund(alice, 1_000);
    await rejects(transfer(services, alice.principal, alice.audit, 'poor-key', body), 'INSUFFICIENT_FUNDS');
    assert.deepEqual(await balanceOf(bob), { balance: 0, locked: 0 });
  });
});

describe('withdrawals and holds', () => {
  test('a withdrawal holds the amount, then the worker debits it on success or releases it on failure', async () => {
    const alice = await createCustomer(database.db, tenantId);
    await fund(alice, 10_000);
    const bankAccountId = await withScope(database.db, { tenantId }, async (transaction) => {
      const row = await transaction
        .insertInto('bank_accounts')
        .values({
          tenant_id: tenantId,
          user_id: alice.userId,
          account_number: '0140012345678',
          account_name: 'Alice',
          bank_code: '014',
          is_primary: true,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    });
    const requested = await requestWithdrawal(services, alice.principal, alice.audit, 'w-1', {
      amount: 4_000,
      bank_account_id: bankAccountId,
    });
    assert.equal(requested.status, 202);
    assert.deepEqual(await balanceOf(alice), { balance: 10_000, locked: 4_000 });
    await rejects(
      transfer(services, alice.principal, alice.audit, undefined, { to_account_number: '1', amount: 1 }),
      'RECIPIENT_NOT_FOUND',
    );
    const paying = createSimulatedBank({ failurePercent: 0, delayMs: 0 });
    const paid = await runPayoutWorker(database.db, services.money, paying);
    assert.ok(paid.completed >= 1);
    assert.deepEqual(await balanceOf(alice), { balance: 6_000, locked: 0 });
    const operation = await withScope(database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('operations')
        .selectAll()
        .where('id', '=', requested.body.operation_id as string)
        .executeTakeFirstOrThrow(),
    );
    assert.equal(operation.status, 'completed');
    assert.match(operation.external_reference ?? '', /^SIMBANK-/);

    const second = await requestWithdrawal(services, alice.principal, alice.audit, 'w-2', {
      amount: 1_000,
      bank_account_id: bankAccountId,
    });
    const failing = createSimulatedBank({ failurePercent: 100, delayMs: 0 });
    await runPayoutWorker(database.db, services.money, failing);
    assert.deepEqual(await balanceOf(alice), { balance: 6_000, locked: 0 });
    const failed = await withScope(database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('operations')
        .selectAll()
        .where('id', '=', second.body.operation_id as string)
        .executeTakeFirstOrThrow(),
    );
    assert.equal(failed.status, 'failed');
    assert.ok(failed.error_message);
    await rejects(
      requestWithdrawal(services, alice.principal, alice.audit, undefined, {
        amount: 6_001,
        bank_account_id: bankAccountId,
      }),
      'INSUFFICIENT_FUNDS',
    );
    await assertLedgerClean();
  });

  test('a staff hold reduces available and is released or captured exactly once', async () => {
    const alice = await createCustomer(database.db, tenantId);
    const manager = await createStaff(database.db, tenantId, 'manager');
    await fund(alice, 5_000);
    const hold = await placeStaffHold(services, manager.principal, manager.audit, {
      user_id: alice.userId,
      amount: 3_000,
      reason: 'fraud review',
    });
    assert.deepEqual(await balanceOf(alice), { balance: 5_000, locked: 3_000 });
    await rejects(
      placeStaffHold(services, manager.principal, manager.audit, {
        user_id: alice.userId,
        amount: 2_001,
        reason: 'x',
      }),
      'INSUFFICIENT_FUNDS',
    );
    const outcomes = await Promise.allSettled([
      endStaffHold(services, manager.principal, manager.audit, hold.id, 'captured'),
      endStaffHold(services, manager.principal, manager.audit, hold.id, 'released'),
      endStaffHold(services, manager.principal, manager.audit, hold.id, 'captured'),
    ]);
    assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 1);
    const state = await balanceOf(alice);
    assert.equal(state.locked, 0);
    assert.ok(state.balance === 2_000 || state.balance === 5_000);
    await assertLedgerClean();
  });
});

describe('ledger check', () => {
  test('names the first offending wallet when a balance is tampered with', async () => {
    const alice = await createCustomer(database.db, tenantId);
    await fund(alice, 1_000);
    await assertLedgerClean();
    await sql`update wallets set balance = balance + 1 where id = ${alice.walletId}`.execute(database.db);
    const result = await checkLedger(database.db);
    assert.equal(result.problem?.kind, 'wallet_balance');
    assert.match(result.problem?.subject ?? '', new RegExp(alice.walletId));
    await sql`update wallets set balance = balance - 1 where id = ${alice.walletId}`.execute(database.db);
    await assertLedgerClean();
  });
});
