import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { ensureTenant } from '../../src/db/seed/seed.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { sealPendingAudits } from '../../src/platform/audit/audit-sealer.ts';
import { recordAudit } from '../../src/platform/audit/audit-trail.ts';
import { verifyAuditChains } from '../../src/platform/audit/audit-verifier.ts';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';

const signing = { key: Buffer.alloc(32, 9), keyId: 'test-key' };
const keys = new Map([[signing.keyId, signing.key]]);

async function writeAudits(database: TestDatabase, tenantId: string, count: number): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, (_, index) =>
      withScope(database.db, { tenantId }, (transaction) =>
        recordAudit(
          transaction,
          { tenantId, requestId: `r-${index}`, ipAddress: '192.0.2.1' },
          {
            entityType: 'config',
            entityId: `key-${index}`,
            action: 'UPDATE',
            newValues: { value: index, pin: '123456', nested: { refresh_token: 'abc' } },
          },
        ),
      ),
    ),
  );
}

async function sealAll(database: TestDatabase): Promise<number> {
  let total = 0;
  for (;;) {
    const sealed = await sealPendingAudits(database.db, signing, 7);
    if (sealed === 0) return total;
    total += sealed;
  }
}

/** Raw SQL as the owner in maintenance mode: what an attacker with database access could do. */
async function tamper(database: TestDatabase, statement: string): Promise<void> {
  await database.db.transaction().execute(async (transaction) => {
    await sql`select set_config('corebank.maintenance', 'on', true)`.execute(transaction);
    await sql.raw(statement).execute(transaction);
  });
}

describe(`audit chain (${testEngine})`, () => {
  let database: TestDatabase;
  let tenantId: string;

  before(async () => {
    database = await openTestDatabase();
    tenantId = await ensureTenant(database, 'audit-test');
    await ensureTenant(database, 'audit-other');
  });
  after(async () => database.close());

  test('concurrent writers are sealed into one gap-free chain that verifies', async () => {
    await writeAudits(database, tenantId, 25);
    // Two sealers racing must take turns per tenant, never fork or double-seal the chain.
    const [first, second] = await Promise.all([sealAll(database), sealAll(database)]);
    assert.equal(first + second, 25);
    const result = await verifyAuditChains(database.db, keys);
    assert.equal(result.problem, undefined);
    const tenant = result.tenants.find((report) => report.tenantId === tenantId);
    assert.equal(tenant?.sealedRows, 25);
    assert.equal(tenant?.unsealedRows, 0);
  });

  test('secrets in audited values are masked before they are stored', async () => {
    const rows = await withScope(database.db, { tenantId }, (transaction) =>
      transaction.selectFrom('audit_logs').select('new_values').execute(),
    );
    const text = JSON.stringify(rows);
    assert.ok(!text.includes('123456'), 'a PIN reached the audit log');
    assert.ok(!text.includes('"abc"'), 'a token reached the audit log');
    assert.ok(text.includes('[REDACTED]'));
  });

  test('a row altered through raw SQL is reported as altered, at its sequence', async () => {
    await tamper(
      database,
      `update audit_logs set action = 'DELETE' where chain_sequence = 5 and tenant_id = '${tenantId}'`,
    );
    const result = await verifyAuditChains(database.db, keys);
    assert.equal(result.problem?.kind, 'altered');
    assert.equal(result.problem?.chainSequence, 5);
    assert.equal(result.problem?.tenantId, tenantId);
    await tamper(
      database,
      `update audit_logs set action = 'UPDATE' where chain_sequence = 5 and tenant_id = '${tenantId}'`,
    );
    assert.equal(
      (await verifyAuditChains(database.db, keys)).problem,
      undefined,
      'restoring the value heals the chain',
    );
  });

  test('a re-signed forgery without the key fails the signature check', async () => {
    await tamper(
      database,
      `update audit_logs set signature = repeat('ab', 32) where chain_sequence = 3 and tenant_id = '${tenantId}'`,
    );
    const result = await verifyAuditChains(database.db, keys);
    assert.equal(result.problem?.kind, 'bad_signature');
    assert.equal(result.problem?.chainSequence, 3);
  });

  test('a deleted row in the middle is reported missing', async () => {
    const fresh = await openTestDatabase();
    try {
      const otherTenant = await ensureTenant(fresh, 'audit-missing');
      await writeAudits(fresh, otherTenant, 6);
      await sealAll(fresh);
      await tamper(fresh, `delete from audit_logs where chain_sequence = 4`);
      const result = await verifyAuditChains(fresh.db, keys);
      assert.equal(result.problem?.kind, 'missing');
      assert.equal(result.problem?.chainSequence, 4);
    } finally {
      await fresh.close();
    }
  });

  test('a deleted last row is caught by the chain head', async () => {
    const fresh = await openTestDatabase();
    try {
      const otherTenant = await ensureTenant(fresh, 'audit-tail');
      await writeAudits(fresh, otherTenant, 4);
      await sealAll(fresh);
      await tamper(fresh, `delete from audit_logs where chain_sequence = 4`);
      const result = await verifyAuditChains(fresh.db, keys);
      assert.equal(result.problem?.kind, 'missing');
      assert.match(result.problem?.message ?? '', /head records 4 rows/);
    } finally {
      await fresh.close();
    }
  });

  test('rows swapped in order are reported out of order', async () => {
    const fresh = await openTestDatabase();
    try {
      const otherTenant = await ensureTenant(fresh, 'audit-order');
      await writeAudits(fresh, otherTenant, 4);
      await sealAll(fresh);
      await tamper(fresh, 'update audit_logs set chain_sequence = 99 where chain_sequence = 2');
      await tamper(fresh, 'update audit_logs set chain_sequence = 2 where chain_sequence = 3');
      await tamper(fresh, 'update audit_logs set chain_sequence = 3 where chain_sequence = 99');
      const result = await verifyAuditChains(fresh.db, keys);
      assert.equal(result.problem?.kind, 'out_of_order');
      assert.equal(result.problem?.chainSequence, 2);
    } finally {
      await fresh.close();
    }
  });

  test('the application role cannot alter or delete audit rows, even ones it wrote', async () => {
    await assert.rejects(
      withScope(database.db, { tenantId }, (transaction) =>
        sql`update audit_logs set action = 'X'`.execute(transaction),
      ),
      /permission denied/,
    );
    await assert.rejects(
      withScope(database.db, { tenantId }, (transaction) => sql`delete from audit_logs`.execute(transaction)),
      /permission denied/,
    );
  });

  test('`corebank audit verify` prints the broken row and exits non-zero', {
    skip: testEngine !== 'postgres',
  }, () => {
    const run = () =>
      spawnSync(process.execPath, ['bin/corebank.js', 'audit', 'verify'], {
        env: {
          ...process.env,
          DATABASE_URL: database.url,
          AUDIT_HMAC_KEY: signing.key.toString('hex'),
          AUDIT_HMAC_KEY_ID: signing.keyId,
          NODE_ENV: 'test',
        },
        encoding: 'utf8',
      });
    const broken = run();
    assert.equal(broken.status, 1);
    assert.match(broken.stderr, /^corebank: audit chain broken \(bad_signature\) .* at sequence 3/m);
    assert.equal(
      broken.stderr
        .trim()
        .split('\n')
        .filter((line) => line.startsWith('corebank:')).length,
      1,
    );
  });
});
