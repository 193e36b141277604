import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import {
  bearer,
  ensureTenant,
  type LoggedIn,
  loginCustomer,
  loginStaff,
  testPin,
  testStaffPassword,
} from '../helpers/auth.ts';
import { answerCode } from '../helpers/responses.ts';
import { createHarness, type Harness, secretsNeverLeakTest } from './harness.ts';

/*
 * Issue 7.4: with tenants.status set to suspended, GET /v1/me answered 200 and a transfer 201 on an
 * existing token. The guard now reads the tenant's status in the same statement that loads the
 * session and refuses with 403 TENANT_SUSPENDED; logins, refresh and the email flows refuse too, at
 * once (not only after the tenant resolver's cache expires). Other tenants are untouched.
 */

let harness: Harness;
let suspendedTenant: string;

before(async () => {
  harness = await createHarness();
  await ensureTenant(harness.app);
  suspendedTenant = await ensureTenant(harness.app, 'to-be-suspended');
});

after(async () => {
  await harness.close();
});

async function setTenantStatus(tenantId: string, status: 'active' | 'suspended'): Promise<void> {
  await harness.database.db.updateTable('tenants').set({ status }).where('id', '=', tenantId).execute();
}

function as(login: Pick<LoggedIn, 'accessToken'>, method: 'GET' | 'POST', url: string, payload?: object) {
  return harness.app.inject({
    method,
    url,
    headers: bearer(login),
    ...(payload ? { payload: payload as Record<string, unknown> } : {}),
  });
}

function publicPost(url: string, payload: Record<string, unknown>) {
  return harness.app.inject({ method: 'POST', url, payload, headers: { 'x-tenant-id': suspendedTenant } });
}

function assertSuspended(response: LightMyRequestResponse, what: string): void {
  assert.equal(response.statusCode, 403, `${what}: ${response.body}`);
  assert.equal(answerCode(response), 'TENANT_SUSPENDED', what);
  assert.ok((response.json() as { error: { request_id?: string } }).error.request_id, what);
}

describe("regression (issue 7.4): a suspended tenant's tokens stop working", () => {
  test('existing tokens, logins, refresh and email flows are refused with TENANT_SUSPENDED; other tenants work', async () => {
    const alice = await loginCustomer(harness.app, { tenantId: suspendedTenant });
    const bob = await loginCustomer(harness.app, { tenantId: suspendedTenant });
    const manager = await loginStaff(harness.app, 'manager', { tenantId: suspendedTenant });
    const elsewhere = await loginCustomer(harness.app);
    assert.equal((await as(alice, 'POST', '/v1/transactions/topup', { amount: 10_000 })).statusCode, 201);
    // Every public flow resolves the tenant once while it is active, so the resolver's cache holds it.
    assert.equal(
      (await publicPost('/v1/auth/password/forgot', { email: 'someone@example.com' })).statusCode,
      202,
    );

    await setTenantStatus(suspendedTenant, 'suspended');

    assertSuspended(await as(alice, 'GET', '/v1/me'), 'GET /v1/me');
    assertSuspended(
      await as(alice, 'POST', '/v1/transactions/transfer', {
        to_account_number: bob.accountNumber,
        amount: 1_000,
      }),
      'transfer',
    );
    assertSuspended(await as(manager, 'GET', '/v1/admin/users'), 'staff list');
    assertSuspended(await publicPost('/v1/auth/refresh', { refresh_token: alice.refreshToken }), 'refresh');
    assertSuspended(
      await publicPost('/v1/auth/banking/login', {
        name: alice.name,
        phone: alice.phone,
        account_number: alice.accountNumber,
        mother_name: alice.motherName,
        pin: testPin,
        device: { type: 'android', id: 'device-under-test', name: 'Test Phone' },
      }),
      'banking login',
    );
    assertSuspended(
      await publicPost('/v1/admin/auth/login', { email: manager.email, password: testStaffPassword }),
      'staff login',
    );
    assertSuspended(await publicPost('/v1/auth/password/forgot', { email: 'someone@example.com' }), 'forgot');

    assert.equal((await as(elsewhere, 'GET', '/v1/me')).statusCode, 200, 'another tenant is untouched');

    await setTenantStatus(suspendedTenant, 'active');
    assert.equal((await as(alice, 'GET', '/v1/me')).statusCode, 200, 'the same token works again');
    const balances = (await as(bob, 'GET', '/v1/me/balances')).json() as { balances: { balance: number }[] };
    assert.equal(balances.balances[0]?.balance ?? 0, 0, 'the refused transfer moved nothing');
  });
});

secretsNeverLeakTest(() => harness);
