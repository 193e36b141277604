import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { bearer, ensureTenant, loginCustomer } from '../helpers/auth.ts';
import { createHarness, type Harness, secretsNeverLeakTest } from './harness.ts';

let harness: Harness;
let tenantId: string;

before(async () => {
  harness = await createHarness();
  tenantId = await ensureTenant(harness.app);
});

after(async () => {
  await harness.close();
});

describe('GET and PATCH /v1/me', () => {
  test('GET /v1/me returns the caller with permissions and no credential material', async () => {
    const customer = await loginCustomer(harness.app);
    const response = await harness.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(customer) });
    assert.equal(response.statusCode, 200);
    const body = response.json() as Record<string, unknown>;
    assert.equal(body.id, customer.userId);
    assert.equal(body.tenant_id, customer.tenantId);
    assert.equal(body.role, 'customer');
    assert.ok((body.permissions as string[]).includes('transactions:create'));
    for (const key of ['pin_hash', 'password_hash', 'mother_name', 'mfa_secret_ciphertext'])
      assert.ok(!(key in body), key);
  });

  test('name, avatar, tags and metadata change, with an audit row holding old and new values', async () => {
    const customer = await loginCustomer(harness.app);
    const response = await harness.app.inject({
      method: 'PATCH',
      url: '/v1/me',
      headers: bearer(customer),
      payload: {
        name: 'Renamed Customer',
        avatar: 'https://cdn.example.com/a.png',
        tags: ['vip'],
        metadata: { locale: 'en-GB' },
      },
    });
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json() as {
      name: string;
      avatar: string;
      tags: string[];
      metadata: Record<string, unknown>;
    };
    assert.equal(body.name, 'Renamed Customer');
    assert.equal(body.avatar, 'https://cdn.example.com/a.png');
    assert.deepEqual(body.tags, ['vip']);
    assert.deepEqual(body.metadata, { locale: 'en-GB' });
    const audit = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('audit_logs')
        .select(['old_values', 'new_values', 'user_id'])
        .where('entity_id', '=', customer.userId)
        .where('action', '=', 'UPDATE_PROFILE')
        .executeTakeFirstOrThrow(),
    );
    assert.equal(audit.user_id, customer.userId);
    assert.equal((audit.old_values as { name: string }).name, customer.name);
    assert.equal((audit.new_values as { name: string }).name, 'Renamed Customer');
  });

  test('a client can never set its balance, role, status, tenant, permissions or KYC tier, whatever it sends', async () => {
    const customer = await loginCustomer(harness.app);
    const other = await ensureTenant(harness.app, 'elsewhere');
    const attempts: Record<string, unknown>[] = [
      { balance: 1_000_000_000 },
      { role: 'super_admin' },
      { status: 1, name: 'Sneaky' },
      { tenant_id: other },
      { permissions: ['staff:manage'] },
      { kyc_tier: 2 },
      { metadata: { a: 1 }, mfa_enabled: false },
      { email: 'takeover@example.com' },
      {},
    ];
    for (const payload of attempts) {
      const response = await harness.app.inject({
        method: 'PATCH',
        url: '/v1/me',
        headers: bearer(customer),
        payload,
      });
      assert.equal(response.statusCode, 400, JSON.stringify(payload));
    }
    const row = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction.selectFrom('users').selectAll().where('id', '=', customer.userId).executeTakeFirstOrThrow(),
    );
    assert.equal(row.role, 'customer');
    assert.equal(row.status, 1);
    assert.equal(row.tenant_id, customer.tenantId);
    assert.deepEqual(row.permissions, []);
    assert.equal(row.kyc_tier, 0);
    assert.equal(row.name, customer.name);
    const wallet = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('wallets')
        .select('balance')
        .where('user_id', '=', customer.userId)
        .executeTakeFirstOrThrow(),
    );
    assert.equal(Number(wallet.balance), 0);
  });

  test('oversized metadata is refused', async () => {
    const customer = await loginCustomer(harness.app);
    const metadata = Object.fromEntries(
      Array.from({ length: 40 }, (_, index) => [`k${index}`, 'x'.repeat(300)]),
    );
    const response = await harness.app.inject({
      method: 'PATCH',
      url: '/v1/me',
      headers: bearer(customer),
      payload: { metadata },
    });
    assert.equal(response.statusCode, 400);
  });
});

secretsNeverLeakTest(() => harness);
