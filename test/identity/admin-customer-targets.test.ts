import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { bearer, ensureTenant, type LoggedInStaff, loginCustomer, loginStaff } from '../helpers/auth.ts';
import { createHarness, type Harness } from './harness.ts';

/**
 * Staff actions aimed at a customer answer 404 NOT_FOUND in the error shape for every id that is not a
 * live customer of the staff member's tenant: nobody, a staff member, another tenant's customer, a
 * deactivated customer. Not a 500, a 409 or INSUFFICIENT_FUNDS that an unrelated rule gives by accident.
 */
let harness: Harness;
let staff: LoggedInStaff;
const targets: Record<string, string> = {};

before(async () => {
  harness = await createHarness();
  await ensureTenant(harness.app);
  staff = await loginStaff(harness.app, 'super_admin');
  targets.nobody = randomUUID();
  targets.staff = (await loginStaff(harness.app, 'officer')).userId;
  const otherTenantId = await ensureTenant(harness.app, 'targets-other-tenant');
  targets['another tenant’s customer'] = (
    await loginCustomer(harness.app, { tenantId: otherTenantId })
  ).userId;
  const leaving = await loginCustomer(harness.app);
  await topup(leaving.userId);
  const deactivated = await post(`/v1/admin/users/${leaving.userId}/deactivate`, {});
  assert.equal(deactivated.statusCode, 200, deactivated.body);
  targets['a deactivated customer'] = leaving.userId;
});

after(() => harness.close());

async function post(url: string, payload: Record<string, unknown>) {
  return harness.app.inject({
    method: 'POST',
    url,
    headers: { ...bearer(staff), 'idempotency-key': randomUUID() },
    payload,
  });
}

async function topup(userId: string) {
  return post(`/v1/admin/users/${userId}/topup`, { amount: 10_000 });
}

function assertNotFound(response: { statusCode: number; body: string }, what: string): void {
  assert.equal(response.statusCode, 404, `${what}: ${response.body}`);
  const body = JSON.parse(response.body) as { error: { code: string; request_id: string } };
  assert.equal(body.error.code, 'NOT_FOUND', what);
  assert.ok(body.error.request_id, what);
}

test('regression (issue 7 follow-up): POST /v1/admin/holds for a user id that is not a customer (nobody, a staff member, another tenant’s user, a deactivated customer) is 404 NOT_FOUND', async () => {
  for (const [who, userId] of Object.entries(targets)) {
    assertNotFound(await post('/v1/admin/holds', { user_id: userId, amount: 100, reason: 'check' }), who);
  }
  const customer = await loginCustomer(harness.app);
  await topup(customer.userId);
  const placed = await post('/v1/admin/holds', { user_id: customer.userId, amount: 100, reason: 'check' });
  assert.equal(placed.statusCode, 201, placed.body);
});

test('regression (issue 7 follow-up): every staff action on a customer id answers 404 for an id that is not a live customer of the tenant', async () => {
  for (const [who, userId] of Object.entries(targets)) {
    if (who !== 'staff') assertNotFound(await topup(userId), `top-up of ${who}`);
    for (const action of ['block', 'unblock', 'unlock', 'force-logout']) {
      if (who !== 'staff')
        assertNotFound(await post(`/v1/admin/users/${userId}/${action}`, {}), `${action} ${who}`);
    }
  }
  // Crediting a staff member is refused by name (segregation of duties, issue 7.6), never posted.
  const staffTopup = await topup(targets.staff as string);
  assert.equal(staffTopup.statusCode, 403, staffTopup.body);
  assert.equal((staffTopup.json() as { error: { code: string } }).error.code, 'SEGREGATION_OF_DUTIES');
  for (const who of ['nobody', 'another tenant’s customer']) {
    for (const list of ['holds', 'transactions']) {
      const response = await harness.app.inject({
        method: 'GET',
        url: `/v1/admin/users/${targets[who]}/${list}`,
        headers: bearer(staff),
      });
      assertNotFound(response, `${list} of ${who}`);
    }
  }
});
