import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, ensureTenant, type LoggedIn, loginCustomer, loginStaff } from '../helpers/auth.ts';
import { answerCode } from '../helpers/responses.ts';
import { createHarness, type Harness } from './harness.ts';

/*
 * Issue 8 item 5: balances, statement, sessions and profile check the session in the same round trip
 * as their read ('with-read'). The read runs before the check is decided, so these tests hold the
 * line that matters: a refused session answers exactly what the guard answered (401, 403 and their
 * codes, in the guard's order before a schema error) and none of the data read comes back.
 */

const screens = ['/v1/me/balances', '/v1/transactions?limit=5', '/v1/me/sessions', '/v1/me'];

let harness: Harness;

before(async () => {
  harness = await createHarness();
  await ensureTenant(harness.app);
});

after(async () => {
  await harness.close();
});

function get(login: Pick<LoggedIn, 'accessToken'>, url: string) {
  return harness.app.inject({ method: 'GET', url, headers: bearer(login) });
}

/** Nothing of the caller's data is in a refusal: no balances, entries, sessions, name or phone. */
function assertNothingRead(body: string, customer: { phone: string; name: string }, what: string): void {
  for (const leak of ['balances', 'entries', 'sessions', '"account_number"', customer.phone, customer.name]) {
    assert.ok(!body.includes(leak), `${what}: ${leak} in ${body}`);
  }
}

describe('screens that check the session with their read (with-read)', () => {
  test('a logged-out token gets 401 UNAUTHENTICATED on every screen and reads nothing', async () => {
    const customer = await loginCustomer(harness.app);
    for (const url of screens) assert.equal((await get(customer, url)).statusCode, 200, url);
    const logout = await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      headers: bearer(customer),
    });
    assert.equal(logout.statusCode, 200, logout.body);
    for (const url of screens) {
      const refused = await get(customer, url);
      assert.equal(refused.statusCode, 401, `${url}: ${refused.body}`);
      assert.equal(answerCode(refused), 'UNAUTHENTICATED', url);
      assertNothingRead(refused.body, customer, url);
    }
  });

  test('a logged-out token with a query failing its schema gets 401, not 400 (the guard order)', async () => {
    const customer = await loginCustomer(harness.app);
    const invalid = await get(customer, '/v1/transactions?limit=abc');
    assert.equal(invalid.statusCode, 400, invalid.body);
    await harness.app.inject({ method: 'POST', url: '/v1/auth/logout', headers: bearer(customer) });
    for (const url of ['/v1/transactions?limit=abc', '/v1/transactions?cursor=not-a-cursor', '/v1/me?x=1']) {
      const refused = await get(customer, url);
      assert.equal(refused.statusCode, 401, `${url}: ${refused.body}`);
    }
  });

  test('staff, whose role lacks the own-wallet permissions, get 403 FORBIDDEN and no rows', async () => {
    const manager = await loginStaff(harness.app, 'manager');
    for (const url of ['/v1/me/balances', '/v1/transactions?limit=5']) {
      const refused = await get(manager, url);
      assert.equal(refused.statusCode, 403, `${url}: ${refused.body}`);
      assert.equal(answerCode(refused), 'FORBIDDEN', url);
      assert.ok(!refused.body.includes('balances') && !refused.body.includes('entries'), refused.body);
    }
    // Their own profile and sessions they may read.
    assert.equal((await get(manager, '/v1/me')).statusCode, 200);
    assert.equal((await get(manager, '/v1/me/sessions')).statusCode, 200);
  });

  test('staff without MFA get 403 on their profile but may list their sessions', async () => {
    const unenrolled = await loginStaff(harness.app, 'manager', { withoutMfa: true });
    const profile = await get(unenrolled, '/v1/me');
    assert.equal(profile.statusCode, 403, profile.body);
    assert.ok(!profile.body.includes(unenrolled.userId), profile.body);
    assert.equal((await get(unenrolled, '/v1/me/sessions')).statusCode, 200);
  });

  test('a suspended tenant gets 403 TENANT_SUSPENDED, a blocked-then-deleted user 401, and nothing is read', async () => {
    const tenantId = await ensureTenant(harness.app, 'with-read-suspended');
    const customer = await loginCustomer(harness.app, { tenantId });
    const db = harness.database.db;
    await db.updateTable('tenants').set({ status: 'suspended' }).where('id', '=', tenantId).execute();
    for (const url of screens) {
      const refused = await get(customer, url);
      assert.equal(refused.statusCode, 403, `${url}: ${refused.body}`);
      assert.equal(answerCode(refused), 'TENANT_SUSPENDED', url);
      assertNothingRead(refused.body, customer, url);
    }
    await db.updateTable('tenants').set({ status: 'active' }).where('id', '=', tenantId).execute();
    assert.equal((await get(customer, '/v1/me/balances')).statusCode, 200);
    await db.updateTable('users').set({ deleted_at: new Date() }).where('id', '=', customer.userId).execute();
    for (const url of screens) assert.equal((await get(customer, url)).statusCode, 401, url);
  });

  test('the current session is marked in the list, and the profile carries the permissions', async () => {
    const customer = await loginCustomer(harness.app);
    const sessions = (await get(customer, '/v1/me/sessions')).json() as {
      sessions: { id: string; current: boolean }[];
    };
    assert.deepEqual(
      sessions.sessions.filter((session) => session.current).map((session) => session.id),
      [customer.sessionId],
    );
    const profile = (await get(customer, '/v1/me')).json() as { id: string; permissions: string[] };
    assert.equal(profile.id, customer.userId);
    assert.ok(profile.permissions.includes('wallets:read_own'), JSON.stringify(profile.permissions));
  });
});
