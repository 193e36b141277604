import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { checkLedger } from '../../src/modules/ledger/ledger-check.ts';
import type { MoneyServices } from '../../src/modules/ledger/money-services.ts';
import { topup } from '../../src/modules/transactions/topups.service.ts';
import { transferBatch } from '../../src/modules/transfers/transfers.service.ts';
import { AppError } from '../../src/platform/errors.ts';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';
import { createCustomer, createTenant, type TestCustomer, testMoneyConfig } from './money-fixtures.ts';

/**
 * A model test of the batch endpoint's service (issue 8): random batches, atomic and not, from random
 * payers to random recipients (the payer itself, an unknown account, a blocked customer among them)
 * run against the database and against an in-memory model of balances; after every batch the
 * outcomes of every item and every balance agree, and the ledger proves itself.
 */
let database: TestDatabase;
let services: MoneyServices;

before(async () => {
  database = await openTestDatabase();
  services = { db: database.db, money: testMoneyConfig(), databaseEngine: testEngine };
});

after(async () => {
  await database.close();
});

const unknownAccount = '88888888888888';

interface Item {
  to: number | 'unknown' | 'blocked';
  amount: number;
}
interface Batch {
  from: number;
  atomic: boolean;
  items: Item[];
}

const itemArbitrary = fc.record({
  to: fc.oneof(
    fc.integer({ min: 0, max: 3 }),
    fc.constant('unknown' as const),
    fc.constant('blocked' as const),
  ),
  amount: fc.integer({ min: 1, max: 700 }),
});
const batchArbitrary = fc.record({
  from: fc.integer({ min: 0, max: 3 }),
  atomic: fc.boolean(),
  items: fc.array(itemArbitrary, { minLength: 1, maxLength: 6 }),
});

/** The rule of one item against the model's balances: the code it fails with, or undefined. */
function modelRejection(balances: number[], batch: Batch, item: Item): string | undefined {
  if (item.to === 'unknown') return 'RECIPIENT_NOT_FOUND';
  if (item.to === batch.from) return 'SELF_TRANSFER';
  if (item.to === 'blocked') return 'RECIPIENT_BLOCKED';
  if ((balances[batch.from] ?? 0) < item.amount) return 'INSUFFICIENT_FUNDS';
  return undefined;
}

function applyModel(balances: number[], batch: Batch): string[] {
  const next = [...balances];
  const outcomes: string[] = [];
  for (const item of batch.items) {
    const rejection = modelRejection(next, batch, item);
    outcomes.push(rejection ?? 'completed');
    if (rejection === undefined && typeof item.to === 'number') {
      next[batch.from] = (next[batch.from] ?? 0) - item.amount;
      next[item.to] = (next[item.to] ?? 0) + item.amount;
    }
  }
  const failed = outcomes.findIndex((value) => value !== 'completed');
  if (batch.atomic && failed >= 0) return [`${outcomes[failed]}@${failed}`];
  balances.splice(0, balances.length, ...next);
  return outcomes;
}

async function runBatch(people: TestCustomer[], blocked: TestCustomer, batch: Batch): Promise<string[]> {
  const payer = people[batch.from] as TestCustomer;
  const transfers = batch.items.map((item) => ({
    to_account_number:
      item.to === 'unknown'
        ? unknownAccount
        : item.to === 'blocked'
          ? blocked.accountNumber
          : (people[item.to] as TestCustomer).accountNumber,
    amount: item.amount,
  }));
  try {
    const response = await transferBatch(services, payer.principal, payer.audit, undefined, {
      atomic: batch.atomic,
      transfers,
    });
    const items = (response.body as { items: { status: string; error?: { code: string } }[] }).items;
    return items.map((item) => item.error?.code ?? item.status);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    const field = error.details?.[0]?.field ?? '';
    return [`${error.code}@${/transfers\.(\d+)\./.exec(field)?.[1] ?? '?'}`];
  }
}

async function balancesOf(tenantId: string, people: TestCustomer[]): Promise<number[]> {
  const rows = await withScope(database.db, { tenantId }, (transaction) =>
    transaction.selectFrom('wallets').select(['id', 'balance']).where('tenant_id', '=', tenantId).execute(),
  );
  const byId = new Map(rows.map((row) => [row.id, row.balance]));
  return people.map((person) => byId.get(person.walletId) ?? 0);
}

test('random batches, atomic and not, agree with an in-memory model item by item', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(batchArbitrary, { minLength: 1, maxLength: 8 }), async (batches) => {
      const tenantId = await createTenant(database.db);
      const people = await Promise.all(
        Array.from({ length: 4 }, () => createCustomer(database.db, tenantId)),
      );
      const blocked = await createCustomer(database.db, tenantId, { status: 2 });
      for (const person of people) {
        await topup(services, person.principal, person.audit, undefined, person.userId, { amount: 1_000 });
      }
      const model = [1_000, 1_000, 1_000, 1_000];
      for (const batch of batches) {
        const expected = applyModel(model, batch);
        assert.deepEqual(await runBatch(people, blocked, batch), expected, JSON.stringify(batch));
        assert.deepEqual(await balancesOf(tenantId, people), model);
      }
    }),
    { numRuns: 12 },
  );
  assert.equal((await checkLedger(database.db)).problem, undefined);
});
