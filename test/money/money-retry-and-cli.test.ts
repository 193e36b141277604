import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { buildProgram } from '../../src/cli/main.ts';
import { CliError, type CliRuntime } from '../../src/cli/runtime.ts';
import { loadConfig } from '../../src/config/config.ts';
import { withMoneyTransaction } from '../../src/modules/ledger/money-transaction.ts';
import { topup } from '../../src/modules/transactions/topups.service.ts';
import { AppError } from '../../src/platform/errors.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { createCustomer, createTenant, testMoneyConfig } from './money-fixtures.ts';

let database: TestDatabase;
let tenantId: string;

before(async () => {
  database = await openTestDatabase();
  tenantId = await createTenant(database.db);
});

after(async () => {
  await database.close();
});

function conflict(code: string): Error {
  return Object.assign(new Error(`simulated ${code}`), { code });
}

describe('bounded retry on serialization failure and deadlock', () => {
  test('40001 and 40P01 are retried, and the work finally commits once', async () => {
    let attempts = 0;
    const result = await withMoneyTransaction(database.db, { tenantId }, 5, async () => {
      attempts += 1;
      if (attempts === 1) throw conflict('40001');
      if (attempts === 2) throw conflict('40P01');
      return 'done';
    });
    assert.equal(result, 'done');
    assert.equal(attempts, 3);
  });

  test('when the attempts run out the caller gets TRANSACTION_CONFLICT (503), never the raw driver error', async () => {
    let attempts = 0;
    await assert.rejects(
      withMoneyTransaction(database.db, { tenantId }, 3, async () => {
        attempts += 1;
        throw conflict('40001');
      }),
      (error: unknown) =>
        error instanceof AppError && error.code === 'TRANSACTION_CONFLICT' && error.status === 503,
    );
    assert.equal(attempts, 3);
  });

  test('other errors are not retried', async () => {
    let attempts = 0;
    await assert.rejects(
      withMoneyTransaction(database.db, { tenantId }, 5, async () => {
        attempts += 1;
        throw conflict('23505');
      }),
    );
    assert.equal(attempts, 1);
  });
});

describe('corebank ledger check', () => {
  function runtimeFor(): CliRuntime {
    return {
      config: () => loadConfig({ NODE_ENV: 'test' }),
      // The CLI closes the handle after the command; the test keeps its database open.
      openDatabase: async () => ({ ...database, close: async () => {} }),
    };
  }

  async function run(): Promise<{ output: string; error: unknown }> {
    const writes: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => {
      writes.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      await buildProgram(runtimeFor()).parseAsync(['ledger', 'check'], { from: 'user' });
      return { output: writes.join(''), error: undefined };
    } catch (error) {
      return { output: writes.join(''), error };
    } finally {
      process.stdout.write = original;
    }
  }

  test('prints OK on a sound ledger and fails naming the first offender when an entry chain is broken', async () => {
    const alice = await createCustomer(database.db, tenantId);
    const services = { db: database.db, money: testMoneyConfig() };
    await topup(services, alice.principal, alice.audit, undefined, alice.userId, { amount: 500 });
    await topup(services, alice.principal, alice.audit, undefined, alice.userId, { amount: 700 });
    const clean = await run();
    assert.equal(clean.error, undefined);
    assert.match(clean.output, /^OK: \d+ wallets and \d+ entries/);

    // Tamper as the maintenance owner: drop Alice's wallet entry count so the chain has a gap.
    await database.db.transaction().execute(async (transaction) => {
      await sql`set local corebank.maintenance = 'on'`.execute(transaction);
      await sql`update wallets set entry_count = entry_count + 1 where id = ${alice.walletId}`.execute(
        transaction,
      );
    });
    const broken = await run();
    assert.ok(broken.error instanceof CliError, String(broken.error));
    assert.notEqual(broken.error.exitCode, 0);
    assert.match(broken.error.message, new RegExp(`wallet ${alice.walletId}`));
    assert.match(broken.error.message, /entry_count|gap/);
  });
});
