import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { withScope } from '../../src/db/tenant-transaction.ts';
import {
  bearer,
  ensureTenant,
  type LoggedInStaff,
  loginCustomer,
  loginStaff,
  testMotherName,
  testPin,
} from '../helpers/auth.ts';
import { createHarness, type Harness, secretsNeverLeakTest } from './harness.ts';

let harness: Harness;
let tenantId: string;
let admin: LoggedInStaff;
let manager: LoggedInStaff;
let officer: LoggedInStaff;

before(async () => {
  harness = await createHarness();
  tenantId = await ensureTenant(harness.app);
  admin = await loginStaff(harness.app, 'admin');
  manager = await loginStaff(harness.app, 'manager');
  officer = await loginStaff(harness.app, 'officer');
});

after(async () => {
  await harness.close();
});

async function act(staff: LoggedInStaff, userId: string, action: string) {
  return harness.app.inject({
    method: 'POST',
    url: `/v1/admin/users/${userId}/${action}`,
    headers: bearer(staff),
  });
}

async function me(accessToken: string) {
  return harness.app.inject({
    method: 'GET',
    url: '/v1/me',
    headers: { authorization: `Bearer ${accessToken}` },
  });
}

describe('listing and viewing users', () => {
  test('keyset pagination walks every user exactly once, newest first', async () => {
    for (let index = 0; index < 5; index += 1) await loginCustomer(harness.app);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/v1/admin/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const response = await harness.app.inject({ method: 'GET', url, headers: bearer(officer) });
      assert.equal(response.statusCode, 200, response.body);
      const page = response.json() as { users: { id: string }[]; next_cursor: string | null };
      assert.ok(page.users.length <= 2);
      seen.push(...page.users.map((user) => user.id));
      cursor = page.next_cursor;
      pages += 1;
    } while (cursor !== null && pages < 50);
    const total = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction.selectFrom('users').select('id').orderBy('id', 'desc').execute(),
    );
    assert.deepEqual(
      seen,
      total.map((row) => row.id),
    );
    assert.equal(new Set(seen).size, seen.length);
  });

  test('search by phone and filter by role; a forged cursor is 400', async () => {
    const customer = await loginCustomer(harness.app);
    const found = await harness.app.inject({
      method: 'GET',
      url: `/v1/admin/users?q=${customer.phone}`,
      headers: bearer(officer),
    });
    const users = (found.json() as { users: { id: string; phone: string }[] }).users;
    assert.deepEqual(
      users.map((user) => user.id),
      [customer.userId],
    );
    const staffOnly = await harness.app.inject({
      method: 'GET',
      url: '/v1/admin/users?role=manager',
      headers: bearer(officer),
    });
    assert.ok(
      (staffOnly.json() as { users: { role: string }[] }).users.every((user) => user.role === 'manager'),
    );
    const forged = await harness.app.inject({
      method: 'GET',
      url: '/v1/admin/users?cursor=bm90LWEtY3Vyc29y',
      headers: bearer(officer),
    });
    assert.equal(forged.statusCode, 400);
    const wild = await harness.app.inject({
      method: 'GET',
      url: '/v1/admin/users?q=%25',
      headers: bearer(officer),
    });
    assert.equal(
      (wild.json() as { users: unknown[] }).users.length,
      0,
      'a % in the search is literal, not a wildcard',
    );
  });

  test('the user view never carries credential material', async () => {
    const customer = await loginCustomer(harness.app);
    const response = await harness.app.inject({
      method: 'GET',
      url: `/v1/admin/users/${customer.userId}`,
      headers: bearer(officer),
    });
    assert.equal(response.statusCode, 200);
    const body = response.json() as Record<string, unknown>;
    assert.equal(body.active_sessions, 1);
    for (const key of ['pin_hash', 'password_hash', 'mfa_secret_ciphertext', 'mother_name'])
      assert.ok(!(key in body), key);
  });
});

describe('staff actions', () => {
  test('officers read but cannot block; managers block and unblock (blocked customers can still log in)', async () => {
    const customer = await loginCustomer(harness.app);
    assert.equal((await act(officer, customer.userId, 'block')).statusCode, 403);
    const blocked = await act(manager, customer.userId, 'block');
    assert.equal(blocked.statusCode, 200, blocked.body);
    assert.equal((blocked.json() as { status: number }).status, 2);
    assert.equal(((await me(customer.accessToken)).json() as { status: number }).status, 2);
    const unblocked = await act(manager, customer.userId, 'unblock');
    assert.equal((unblocked.json() as { status: number }).status, 1);
    const audits = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('audit_logs')
        .select(['action', 'admin_id', 'user_id', 'old_values', 'new_values'])
        .where('entity_id', '=', customer.userId)
        .where('event_type', '=', 'ADMIN_ACTION')
        .orderBy('created_at')
        .execute(),
    );
    assert.deepEqual(
      audits.map((row) => row.action),
      ['BLOCK', 'UNBLOCK'],
    );
    assert.ok(audits.every((row) => row.admin_id === manager.userId && row.user_id === customer.userId));
    assert.deepEqual(audits[0]?.old_values, { status: 1 });
  });

  test('deactivate ends every session and stops logins; force-logout ends sessions only', async () => {
    const leaving = await loginCustomer(harness.app);
    assert.equal(
      (await act(manager, leaving.userId, 'deactivate')).statusCode,
      403,
      'deactivation needs users:manage',
    );
    const response = await act(admin, leaving.userId, 'deactivate');
    assert.equal(response.statusCode, 200);
    assert.equal((response.json() as { status: number; deleted_at: string | null }).status, 0);
    assert.equal((await me(leaving.accessToken)).statusCode, 401);
    const login = await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/banking/login',
      payload: {
        name: leaving.name,
        phone: leaving.phone,
        account_number: leaving.accountNumber,
        mother_name: testMotherName,
        pin: testPin,
        device: { type: 'web', id: 'x', name: 'y' },
      },
    });
    assert.equal(login.statusCode, 403);
    const kicked = await loginCustomer(harness.app);
    assert.equal((await act(manager, kicked.userId, 'force-logout')).statusCode, 200);
    assert.equal((await me(kicked.accessToken)).statusCode, 401);
  });

  test('unlock lifts a lockout; reset-mfa removes the second factor and ends sessions', async () => {
    const customer = await loginCustomer(harness.app);
    await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .updateTable('users')
        .set({ locked_until: new Date(Date.now() + 3_600_000), failed_login_attempts: 3 })
        .where('id', '=', customer.userId)
        .execute(),
    );
    const unlocked = await act(manager, customer.userId, 'unlock');
    assert.equal((unlocked.json() as { locked: boolean; failed_login_attempts: number }).locked, false);
    const again = await loginCustomer(harness.app, {
      phone: customer.phone,
      accountNumber: customer.accountNumber,
      name: customer.name,
    });
    assert.equal((await me(again.accessToken)).statusCode, 200);
    const staff = await loginStaff(harness.app, 'officer');
    const reset = await harness.app.inject({
      method: 'POST',
      url: `/v1/admin/users/${staff.userId}/reset-mfa`,
      headers: bearer(admin),
    });
    assert.equal(reset.statusCode, 403, 'acting on staff needs staff:manage');
    const superAdmin = await loginStaff(harness.app, 'super_admin');
    const done = await harness.app.inject({
      method: 'POST',
      url: `/v1/admin/users/${staff.userId}/reset-mfa`,
      headers: bearer(superAdmin),
    });
    assert.equal(done.statusCode, 200, done.body);
    assert.equal((done.json() as { mfa_enabled: boolean }).mfa_enabled, false);
    assert.equal((await me(staff.accessToken)).statusCode, 401);
  });

  test('staff cannot block or deactivate themselves; an unknown user is 404', async () => {
    const superAdmin = await loginStaff(harness.app, 'super_admin');
    assert.equal((await act(superAdmin, superAdmin.userId, 'deactivate')).statusCode, 403);
    assert.equal((await act(admin, '0190a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e', 'block')).statusCode, 404);
  });
});

secretsNeverLeakTest(() => harness);
