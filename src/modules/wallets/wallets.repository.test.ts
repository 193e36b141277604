// Invariants as assertions (issue 9): a wallet that cannot be read back right after it was opened is a
// broken invariant, and ensure…Wallet crashes loudly instead of handing its caller an id to post to.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { ensureCustomerWallet, ensureSystemWallet } from './wallets.repository.ts';

/** A database that accepts every statement and returns no rows: an insert that "vanishes". */
function vanishingDatabase(): { transaction: ScopedTransaction; statements: string[] } {
  const statements: string[] = [];
  const db = new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (database) => new PostgresIntrospector(database),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
    log: (event) => {
      if (event.level === 'query') statements.push(event.query.sql);
    },
  });
  return { transaction: db as unknown as ScopedTransaction, statements };
}

const tenantId = '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e';
const userId = '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6f';

describe('wallet invariants (issue 9: assertions, not plain errors)', () => {
  it('a customer wallet missing right after it was opened is an AssertionError, after the insert', async () => {
    const { transaction, statements } = vanishingDatabase();
    await assert.rejects(
      ensureCustomerWallet(transaction, tenantId, userId, 'IDR'),
      (error: unknown) =>
        error instanceof assert.AssertionError && /customer wallet missing/.test(error.message),
    );
    assert.ok(statements.some((statement) => statement.startsWith('insert into "wallets"')));
  });

  it('a system wallet missing right after it was created is an AssertionError', async () => {
    const { transaction } = vanishingDatabase();
    await assert.rejects(
      ensureSystemWallet(transaction, tenantId, 'IDR', 'cash_in'),
      (error: unknown) =>
        error instanceof assert.AssertionError && /system wallet missing/.test(error.message),
    );
  });
});
