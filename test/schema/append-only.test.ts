import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from '../../src/db/schema.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';

/*
 * The history tables cannot be rewritten: the application role lacks the privileges, and the
 * triggers refuse even the owner unless it is in maintenance mode. The one exception is the audit
 * sealer filling the seal columns of a row that has none.
 */

type AppendOnlyTable = 'transactions' | 'audit_logs' | 'login_audits' | 'session_logs' | 'api_access_log';

/** One row of each append-only table, written by the owner; these are the rows the tests try to change. */
interface Fixture {
  tenantId: string;
  otherTenantId: string;
  rowIds: Record<AppendOnlyTable, string>;
  /** Ledger entries that only the maintenance tests may delete. */
  disposableEntryIds: string[];
  /** Audit rows: one left unsealed throughout, one sealed by the sealer test, one deleted in maintenance. */
  unsealedAuditId: string;
  sealableAuditId: string;
  disposableAuditId: string;
}

const permissionDenied = /permission denied/;
const appendOnly = /append-only/;

let handle: TestDatabase;
let fixture: Fixture;

async function insertAudit(db: Kysely<Database>, tenantId: string, action: string): Promise<string> {
  const row = await db
    .insertInto('audit_logs')
    .values({ tenant_id: tenantId, entity_type: 'user', entity_id: 'fixture', action })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

async function createFixture(db: Kysely<Database>): Promise<Fixture> {
  const tenants = await db
    .insertInto('tenants')
    .values([
      { slug: 'append-a', name: 'Append A' },
      { slug: 'append-b', name: 'Append B' },
    ])
    .returning(['id', 'slug'])
    .execute();
  const tenantId = tenants.find((tenant) => tenant.slug === 'append-a')!.id;
  const otherTenantId = tenants.find((tenant) => tenant.slug === 'append-b')!.id;
  const user = await db
    .insertInto('users')
    .values({ tenant_id: tenantId, name: 'Ledger Owner', phone: '081300000001', pin_hash: 'test-only-hash' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const wallet = await db
    .insertInto('wallets')
    .values({
      tenant_id: tenantId,
      user_id: user.id,
      asset_code: 'IDR',
      kind: 'customer',
      balance: 300,
      entry_count: 3,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  // Three top-ups of 100 chaining 0 → 100 → 200 → 300, as the wallet's balance says.
  const entries = await db
    .insertInto('transactions')
    .values(
      [1, 2, 3].map((sequence) => ({
        tenant_id: tenantId,
        user_id: user.id,
        wallet_id: wallet.id,
        asset_code: 'IDR',
        entry_sequence: sequence,
        type: 'topup' as const,
        amount: 100,
        balance_before: (sequence - 1) * 100,
        balance_after: sequence * 100,
        movement_id: randomUUID(),
      })),
    )
    .returning(['id', 'entry_sequence'])
    .execute();
  const entryId = (sequence: number) => entries.find((entry) => entry.entry_sequence === sequence)!.id;

  const login = await db
    .insertInto('login_audits')
    .values({ tenant_id: tenantId, user_id: user.id, login_type: 'user_login', status: 'success' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const sessionLog = await db
    .insertInto('session_logs')
    .values({ tenant_id: tenantId, user_id: user.id, event_type: 'CREATED' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const access = await db
    .insertInto('api_access_log')
    .values({ tenant_id: tenantId, request_id: 'req-fixture', method: 'GET', endpoint: '/v1/me' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const unsealedAuditId = await insertAudit(db, tenantId, 'CREATE');

  return {
    tenantId,
    otherTenantId,
    rowIds: {
      transactions: entryId(1),
      audit_logs: unsealedAuditId,
      login_audits: login.id,
      session_logs: sessionLog.id,
      api_access_log: access.id,
    },
    disposableEntryIds: [entryId(2), entryId(3)],
    unsealedAuditId,
    sealableAuditId: await insertAudit(db, tenantId, 'UPDATE'),
    disposableAuditId: await insertAudit(db, tenantId, 'DELETE'),
  };
}

/** A harmless change for each table: it must still be refused. */
function updateStatement(table: AppendOnlyTable, id: string) {
  const column = {
    transactions: 'description',
    audit_logs: 'user_agent',
    login_audits: 'user_agent',
    session_logs: 'user_agent',
    api_access_log: 'user_agent',
  }[table];
  return sql`update ${sql.table(table)} set ${sql.ref(column)} = 'changed' where id = ${id}`;
}

function deleteStatement(table: AppendOnlyTable, id: string) {
  return sql`delete from ${sql.table(table)} where id = ${id}`;
}

/** Runs `work` as the owner in one transaction that is rolled back whatever happens. */
async function asOwnerRolledBack(work: (transaction: Transaction<Database>) => Promise<void>): Promise<void> {
  const rollback = new Error('rollback');
  await assert.rejects(
    handle.db.transaction().execute(async (transaction) => {
      await work(transaction);
      throw rollback;
    }),
    (error) => error === rollback,
  );
}

async function asSealer<T>(
  tenantId: string,
  work: (transaction: Transaction<Database>) => Promise<T>,
): Promise<T> {
  return handle.db.transaction().execute(async (transaction) => {
    await sql`select set_config('app.tenant_id', ${tenantId}, true),
                     set_config('role', 'corebank_sealer', true)`.execute(transaction);
    return work(transaction);
  });
}

function seal(chainSequence: number, hashCharacter: string) {
  return {
    chain_sequence: chainSequence,
    previous_hash: '0'.repeat(64),
    row_hash: hashCharacter.repeat(64),
    signature: hashCharacter.repeat(64),
    signing_key_id: 'test-key',
    sealed_at: new Date(),
  };
}

before(async () => {
  handle = await openTestDatabase();
  fixture = await createFixture(handle.db);
});

after(async () => {
  await handle?.close();
});

const appendOnlyTables: AppendOnlyTable[] = [
  'transactions',
  'audit_logs',
  'login_audits',
  'session_logs',
  'api_access_log',
];

describe('the application role', () => {
  for (const table of appendOnlyTables) {
    test(`cannot UPDATE or DELETE ${table}: permission denied`, async () => {
      const id = fixture.rowIds[table];
      // The logs grant UPDATE of their personal columns for erasure (migration 0021): outside an
      // erasure's transaction the guard trigger refuses it instead of the privilege check.
      await assert.rejects(
        withScope(handle.db, { tenantId: fixture.tenantId }, (transaction) =>
          updateStatement(table, id).execute(transaction),
        ),
        table === 'transactions' ? permissionDenied : appendOnly,
      );
      await assert.rejects(
        withScope(handle.db, { tenantId: fixture.tenantId }, (transaction) =>
          deleteStatement(table, id).execute(transaction),
        ),
        permissionDenied,
      );
    });
  }

  test('can still append: an insert into login_audits succeeds and is visible', async () => {
    const rows = await withScope(handle.db, { tenantId: fixture.tenantId }, async (transaction) => {
      await transaction
        .insertInto('login_audits')
        .values({
          tenant_id: fixture.tenantId,
          login_type: 'user_login',
          status: 'failed',
          failure_reason: 'test',
        })
        .execute();
      return transaction
        .selectFrom('login_audits')
        .select('id')
        .where('failure_reason', '=', 'test')
        .execute();
    });
    assert.equal(rows.length, 1);
  });

  test('cannot use maintenance mode: the setting does not grant the privilege', async () => {
    await assert.rejects(
      withScope(handle.db, { tenantId: fixture.tenantId }, async (transaction) => {
        await sql`select set_config('corebank.maintenance', 'on', true)`.execute(transaction);
        await deleteStatement('transactions', fixture.rowIds.transactions).execute(transaction);
      }),
      permissionDenied,
    );
  });
});

describe('the owner without maintenance mode', () => {
  for (const table of appendOnlyTables) {
    test(`is refused UPDATE, DELETE and TRUNCATE on ${table} by the triggers`, async () => {
      const id = fixture.rowIds[table];
      await assert.rejects(updateStatement(table, id).execute(handle.db), appendOnly);
      await assert.rejects(deleteStatement(table, id).execute(handle.db), appendOnly);
      await assert.rejects(sql`truncate ${sql.table(table)}`.execute(handle.db), appendOnly);
      const survivors = await sql`select id from ${sql.table(table)} where id = ${id}`.execute(handle.db);
      assert.equal(survivors.rows.length, 1);
    });
  }
});

describe('the owner in maintenance mode', () => {
  test('can DELETE ledger entries and audit rows inside its own transaction', async () => {
    const deleted = await handle.db.transaction().execute(async (transaction) => {
      await sql`select set_config('corebank.maintenance', 'on', true)`.execute(transaction);
      const entries = await transaction
        .deleteFrom('transactions')
        .where('id', 'in', fixture.disposableEntryIds)
        .executeTakeFirst();
      const audits = await transaction
        .deleteFrom('audit_logs')
        .where('id', '=', fixture.disposableAuditId)
        .executeTakeFirst();
      return { entries: entries.numDeletedRows, audits: audits.numDeletedRows };
    });
    assert.deepEqual(deleted, { entries: 2n, audits: 1n });
  });

  test('mode ends with the transaction: the next owner transaction is refused again', async () => {
    await assert.rejects(
      deleteStatement('transactions', fixture.rowIds.transactions).execute(handle.db),
      appendOnly,
    );
  });

  test('can TRUNCATE an append-only table (rolled back here)', async () => {
    await asOwnerRolledBack(async (transaction) => {
      await sql`select set_config('corebank.maintenance', 'on', true)`.execute(transaction);
      await sql`truncate session_logs`.execute(transaction);
      const remaining = await transaction.selectFrom('session_logs').select('id').execute();
      assert.equal(remaining.length, 0);
    });
    const restored = await handle.db.selectFrom('session_logs').select('id').execute();
    assert.equal(restored.length, 1);
  });
});

describe('the audit sealer', () => {
  test('can fill the seal columns of an unsealed row once, and only within its tenant', async () => {
    const otherTenant = await asSealer(fixture.otherTenantId, (transaction) =>
      transaction
        .updateTable('audit_logs')
        .set(seal(1, 'a'))
        .where('id', '=', fixture.sealableAuditId)
        .executeTakeFirst(),
    );
    assert.equal(otherTenant.numUpdatedRows, 0n);

    const sealed = await asSealer(fixture.tenantId, (transaction) =>
      transaction
        .updateTable('audit_logs')
        .set(seal(1, 'a'))
        .where('tenant_id', '=', fixture.tenantId)
        .where('id', '=', fixture.sealableAuditId)
        .executeTakeFirst(),
    );
    assert.equal(sealed.numUpdatedRows, 1n);
    const row = await handle.db
      .selectFrom('audit_logs')
      .select(['row_hash', 'chain_sequence', 'action'])
      .where('id', '=', fixture.sealableAuditId)
      .executeTakeFirstOrThrow();
    assert.deepEqual(row, { row_hash: 'a'.repeat(64), chain_sequence: 1, action: 'UPDATE' });
  });

  test('cannot change any other column of an audit row: permission denied', async () => {
    await assert.rejects(
      asSealer(fixture.tenantId, (transaction) =>
        transaction
          .updateTable('audit_logs')
          .set({ action: 'TAMPERED' })
          .where('id', '=', fixture.unsealedAuditId)
          .execute(),
      ),
      permissionDenied,
    );
  });

  test('cannot re-seal a sealed row, even with maintenance mode set', async () => {
    await assert.rejects(
      asSealer(fixture.tenantId, async (transaction) => {
        await sql`select set_config('corebank.maintenance', 'on', true)`.execute(transaction);
        await transaction
          .updateTable('audit_logs')
          .set(seal(2, 'b'))
          .where('id', '=', fixture.sealableAuditId)
          .execute();
      }),
      appendOnly,
    );
    const row = await handle.db
      .selectFrom('audit_logs')
      .select('row_hash')
      .where('id', '=', fixture.sealableAuditId)
      .executeTakeFirstOrThrow();
    assert.equal(row.row_hash, 'a'.repeat(64));
  });

  test('the seal exception covers seal columns only: sealing while changing action is refused to the owner too', async () => {
    await assert.rejects(
      handle.db
        .updateTable('audit_logs')
        .set({ ...seal(2, 'c'), action: 'TAMPERED' })
        .where('id', '=', fixture.unsealedAuditId)
        .execute(),
      appendOnly,
    );
  });
});
