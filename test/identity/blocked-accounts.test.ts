import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { generateTotp } from '../../src/modules/mfa/totp.ts';
import {
  bearer,
  ensureTenant,
  type LoggedIn,
  type LoggedInStaff,
  loginCustomer,
  loginStaff,
  testStaffPassword,
} from '../helpers/auth.ts';
import { answerCode } from '../helpers/responses.ts';
import { createHarness, type Harness, secretsNeverLeakTest } from './harness.ts';

/*
 * Issue 7.3: a super admin blocked a manager (status 2); the manager logged in again, placed a hold
 * and blocked a customer. Seed 000: a blocked admin (admins.status 2) "cannot perform any actions",
 * and a blocked user (users.status 2, "terblokir") "cannot perform transactions". So blocked staff are
 * refused at login, at refresh and on every request of an existing session; blocked customers still
 * log in and read their own data, and every money movement of theirs is refused.
 */

let harness: Harness;
let tenantId: string;

before(async () => {
  harness = await createHarness();
  tenantId = await ensureTenant(harness.app);
});

after(async () => {
  await harness.close();
});

function as(login: Pick<LoggedIn, 'accessToken'>, method: 'GET' | 'POST', url: string, payload?: object) {
  return harness.app.inject({
    method,
    url,
    headers: bearer(login),
    ...(payload ? { payload: payload as Record<string, unknown> } : {}),
  });
}

async function setStatus(userId: string, status: 0 | 1 | 2): Promise<void> {
  await withScope(harness.database.db, { tenantId }, (transaction) =>
    transaction.updateTable('users').set({ status }).where('id', '=', userId).execute(),
  );
}

function staffLogin(staff: LoggedInStaff, password = testStaffPassword) {
  return harness.app.inject({
    method: 'POST',
    url: '/v1/admin/auth/login',
    payload: {
      email: staff.email,
      password,
      totp: generateTotp({ secretBase32: staff.totpSecret }, Date.now() + 30_000),
    },
  });
}

describe('regression (issue 7.3): a blocked staff member keeps no power', () => {
  test('blocked by a super admin, a manager is refused on the next request of the old session, at login and at refresh', async () => {
    const superAdmin = await loginStaff(harness.app, 'super_admin');
    const manager = await loginStaff(harness.app, 'manager');
    const customer = await loginCustomer(harness.app);
    assert.equal((await as(manager, 'GET', '/v1/me')).statusCode, 200);

    const blocked = await as(superAdmin, 'POST', `/v1/admin/users/${manager.userId}/block`, {});
    assert.equal(blocked.statusCode, 200, blocked.body);

    // The session that existed before the block: every route, reading or acting, is refused.
    for (const response of [
      await as(manager, 'GET', '/v1/me'),
      await as(manager, 'GET', '/v1/admin/users'),
      await as(manager, 'POST', '/v1/admin/holds', { user_id: customer.userId, amount: 1, reason: 'x' }),
      await as(manager, 'POST', `/v1/admin/users/${customer.userId}/block`, {}),
    ]) {
      assert.equal(response.statusCode, 403, response.body);
      assert.equal(answerCode(response), 'ACCOUNT_BLOCKED');
    }
    const customerRow = await as(superAdmin, 'GET', `/v1/admin/users/${customer.userId}`);
    assert.equal((customerRow.json() as { status: number }).status, 1, 'the customer was not blocked');

    const again = await staffLogin(manager);
    assert.equal(again.statusCode, 403, again.body);
    assert.equal(answerCode(again), 'ACCOUNT_BLOCKED');
    const refreshed = await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refresh_token: manager.refreshToken },
    });
    assert.equal(refreshed.statusCode, 403, refreshed.body);
    assert.equal(answerCode(refreshed), 'ACCOUNT_BLOCKED');

    // The block is the only reason: unblocked, the same manager works again.
    assert.equal(
      (await as(superAdmin, 'POST', `/v1/admin/users/${manager.userId}/unblock`, {})).statusCode,
      200,
    );
    assert.equal((await as(manager, 'GET', '/v1/me')).statusCode, 200);
    assert.equal((await staffLogin(manager)).statusCode, 200);
  });

  test('a blocked staff member with a wrong password learns nothing about the block, and the guess counts', async () => {
    const officer = await loginStaff(harness.app, 'officer');
    await setStatus(officer.userId, 2);
    const wrong = await staffLogin(officer, 'not-the-right-password');
    assert.equal(wrong.statusCode, 401);
    assert.equal(answerCode(wrong), 'INVALID_CREDENTIALS');
    const row = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('users')
        .select('failed_login_attempts')
        .where('id', '=', officer.userId)
        .executeTakeFirstOrThrow(),
    );
    assert.equal(row.failed_login_attempts, 1);
    const blockedRecords = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('login_audits')
        .select('failure_reason')
        .where('admin_id', '=', officer.userId)
        .where('status', '=', 'blocked')
        .execute(),
    );
    assert.deepEqual(blockedRecords, [], 'only a right password reaches the status check');
  });
});

describe('a blocked customer (seed 000: cannot perform transactions)', () => {
  test('logs in and reads their own data, but every money movement of theirs is refused', async () => {
    const admin = await loginStaff(harness.app, 'admin');
    const blocked = await loginCustomer(harness.app);
    const friend = await loginCustomer(harness.app);
    assert.equal((await as(blocked, 'POST', '/v1/transactions/topup', { amount: 10_000 })).statusCode, 201);
    await setStatus(blocked.userId, 2);

    const me = await as(blocked, 'GET', '/v1/me');
    assert.equal(me.statusCode, 200);
    assert.equal((me.json() as { status: number }).status, 2);
    assert.equal((await as(blocked, 'GET', '/v1/me/balances')).statusCode, 200);
    assert.equal((await as(blocked, 'GET', '/v1/transactions')).statusCode, 200);
    const relogged = await loginCustomer(harness.app, {
      phone: blocked.phone,
      accountNumber: blocked.accountNumber,
      name: blocked.name,
    });
    assert.equal((await as(relogged, 'GET', '/v1/me')).statusCode, 200);

    const movements = [
      await as(blocked, 'POST', '/v1/transactions/topup', { amount: 1_000 }),
      await as(blocked, 'POST', '/v1/transactions/transfer', {
        to_account_number: friend.accountNumber,
        amount: 1_000,
      }),
      await as(admin, 'POST', `/v1/admin/users/${blocked.userId}/topup`, { amount: 1_000 }),
    ];
    for (const response of movements) {
      assert.equal(response.statusCode, 403, response.body);
      assert.equal(answerCode(response), 'ACCOUNT_BLOCKED');
    }
    const toBlocked = await as(friend, 'POST', '/v1/transactions/topup', { amount: 5_000 });
    assert.equal(toBlocked.statusCode, 201);
    const incoming = await as(friend, 'POST', '/v1/transactions/transfer', {
      to_account_number: blocked.accountNumber,
      amount: 1_000,
    });
    assert.equal(answerCode(incoming), 'RECIPIENT_BLOCKED');
    const balances = (await as(blocked, 'GET', '/v1/me/balances')).json() as {
      balances: { asset: string; balance: number }[];
    };
    assert.deepEqual(
      balances.balances.map((wallet) => [wallet.asset, wallet.balance]),
      [['IDR', 10_000]],
      'nothing moved',
    );
  });
});

secretsNeverLeakTest(() => harness);
