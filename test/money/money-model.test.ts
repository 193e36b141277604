import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { endStaffHold, placeStaffHold } from '../../src/modules/holds/holds.service.ts';
import { checkLedger } from '../../src/modules/ledger/ledger-check.ts';
import type { MoneyServices } from '../../src/modules/ledger/money-services.ts';
import type { PayoutProvider } from '../../src/modules/payouts/payout-provider.ts';
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

/**
 * Property: any sequence of top-ups, transfers, withdrawals (paid or failed), holds placed, released
 * and captured leaves every wallet exactly where a ten-line in-memory model says, and the ledger
 * check clean. Customer count is small so transfers collide with holds and withdrawals often.
 */

let database: TestDatabase;
let services: MoneyServices;

before(async () => {
  database = await openTestDatabase();
  services = { db: database.db, money: testMoneyConfig() };
});

after(async () => {
  await database.close();
});

type Command =
  | { kind: 'topup'; who: number; amount: number }
  | { kind: 'transfer'; from: number; to: number; amount: number }
  | { kind: 'withdraw'; who: number; amount: number }
  | { kind: 'payout' }
  | { kind: 'hold'; who: number; amount: number }
  | { kind: 'endHold'; index: number; outcome: 'released' | 'captured' };

const customers = 3;
const who = fc.integer({ min: 0, max: customers - 1 });
const amount = fc.integer({ min: 1, max: 5_000 });
const commandArbitrary: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constant('topup' as const), who, amount }),
  fc.record({ kind: fc.constant('transfer' as const), from: who, to: who, amount }),
  fc.record({ kind: fc.constant('withdraw' as const), who, amount }),
  fc.record({ kind: fc.constant('payout' as const) }),
  fc.record({ kind: fc.constant('hold' as const), who, amount }),
  fc.record({
    kind: fc.constant('endHold' as const),
    index: fc.nat(20),
    outcome: fc.constantFrom('released' as const, 'captured' as const),
  }),
);

/** Pays even amounts and rejects odd ones, so the model knows each outcome in advance. */
const parityBank: PayoutProvider = {
  payout: async (request) =>
    request.amount % 2 === 0
      ? { outcome: 'paid', externalReference: `PARITY-${request.reference.slice(0, 8)}` }
      : { outcome: 'failed', errorMessage: 'odd amounts bounce' },
};

interface ModelWallet {
  balance: number;
  locked: number;
}

async function expectOutcome(work: Promise<unknown>, shouldSucceed: boolean, code: string): Promise<boolean> {
  try {
    await work;
  } catch (error) {
    assert.ok(error instanceof AppError, String(error));
    assert.ok(!shouldSucceed, `unexpected ${error.code}`);
    assert.equal(error.code, code);
    return false;
  }
  assert.ok(shouldSucceed, `expected ${code}`);
  return true;
}

test('random money sequences agree with an in-memory model and the ledger check', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(commandArbitrary, { minLength: 1, maxLength: 30 }), async (commands) => {
      const tenantId = await createTenant(database.db);
      const people: TestCustomer[] = [];
      for (let index = 0; index < customers; index += 1)
        people.push(await createCustomer(database.db, tenantId));
      const staff = await createStaff(database.db, tenantId, 'manager');
      const bankAccounts = await withScope(database.db, { tenantId }, (transaction) =>
        Promise.all(
          people.map(async (person) => {
            const row = await transaction
              .insertInto('bank_accounts')
              .values({
                tenant_id: tenantId,
                user_id: person.userId,
                account_number: `77${person.accountNumber}`,
                account_name: 'Payout',
                is_primary: true,
              })
              .returning('id')
              .executeTakeFirstOrThrow();
            return row.id;
          }),
        ),
      );
      const model: ModelWallet[] = people.map(() => ({ balance: 0, locked: 0 }));
      const pendingWithdrawals: { who: number; amount: number }[] = [];
      const holds: { id: string; who: number; amount: number; active: boolean }[] = [];
      const wallet = (index: number): ModelWallet => model[index] as ModelWallet;
      const person = (index: number): TestCustomer => people[index] as TestCustomer;

      for (const command of commands) {
        if (command.kind === 'topup') {
          const customer = person(command.who);
          await topup(services, customer.principal, customer.audit, undefined, customer.userId, {
            amount: command.amount,
          });
          wallet(command.who).balance += command.amount;
        } else if (command.kind === 'transfer') {
          const sender = wallet(command.from);
          const self = command.from === command.to;
          const affordable = sender.balance - sender.locked >= command.amount;
          const ok = await expectOutcome(
            transfer(services, person(command.from).principal, person(command.from).audit, undefined, {
              to_account_number: person(command.to).accountNumber,
              amount: command.amount,
            }),
            !self && affordable,
            self ? 'SELF_TRANSFER' : 'INSUFFICIENT_FUNDS',
          );
          if (ok) {
            sender.balance -= command.amount;
            wallet(command.to).balance += command.amount;
          }
        } else if (command.kind === 'withdraw') {
          const state = wallet(command.who);
          const ok = await expectOutcome(
            requestWithdrawal(services, person(command.who).principal, person(command.who).audit, undefined, {
              amount: command.amount,
              bank_account_id: bankAccounts[command.who] as string,
            }),
            state.balance - state.locked >= command.amount,
            'INSUFFICIENT_FUNDS',
          );
          if (ok) {
            state.locked += command.amount;
            pendingWithdrawals.push({ who: command.who, amount: command.amount });
          }
        } else if (command.kind === 'payout') {
          await runPayoutWorker(database.db, { ...services.money, payoutBatchSize: 1000 }, parityBank);
          for (const pending of pendingWithdrawals.splice(0)) {
            const state = wallet(pending.who);
            state.locked -= pending.amount;
            if (pending.amount % 2 === 0) state.balance -= pending.amount;
          }
        } else if (command.kind === 'hold') {
          const state = wallet(command.who);
          const shouldSucceed = state.balance - state.locked >= command.amount;
          let holdId: string | undefined;
          const ok = await expectOutcome(
            placeStaffHold(services, staff.principal, staff.audit, {
              user_id: person(command.who).userId,
              amount: command.amount,
              reason: 'model',
            }).then((hold) => {
              holdId = hold.id;
            }),
            shouldSucceed,
            'INSUFFICIENT_FUNDS',
          );
          if (ok && holdId) {
            state.locked += command.amount;
            holds.push({ id: holdId, who: command.who, amount: command.amount, active: true });
          }
        } else if (holds.length > 0) {
          const hold = holds[command.index % holds.length];
          assert.ok(hold);
          const ok = await expectOutcome(
            endStaffHold(services, staff.principal, staff.audit, hold.id, command.outcome),
            hold.active,
            'HOLD_NOT_ACTIVE',
          );
          if (ok) {
            hold.active = false;
            const state = wallet(hold.who);
            state.locked -= hold.amount;
            if (command.outcome === 'captured') state.balance -= hold.amount;
          }
        }
      }

      const actual = await withScope(database.db, { tenantId }, (transaction) =>
        Promise.all(
          people.map((customer) =>
            transaction
              .selectFrom('wallets')
              .select(['balance', 'locked'])
              .where('id', '=', customer.walletId)
              .executeTakeFirstOrThrow(),
          ),
        ),
      );
      assert.deepEqual(actual, model);
      const check = await checkLedger(database.db);
      assert.equal(check.problem, undefined, JSON.stringify(check.problem));
    }),
    { numRuns: Number(process.env.MONEY_MODEL_RUNS ?? 12) },
  );
});
