import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { generateTotp } from '../../src/modules/mfa/totp.ts';
import {
  adaptiveLimit,
  combinedTrustScore,
  trustMultiplier,
} from '../../src/modules/rate-limits/trust-multipliers.ts';
import {
  bearer,
  type LoggedInCustomer,
  loginCustomer,
  loginStaff,
  testStaffPassword,
} from '../helpers/auth.ts';
import { createHarness, type Harness } from '../identity/harness.ts';

/*
 * Issue 10 item 6, adaptive limits: the per-user limit is RATE_LIMIT_USER_REQUESTS_MAX times a
 * multiplier from the user's trust score (2× from 80, 1× from 50, 0.5× from 20, 0.25× below).
 */

let harness: Harness;

before(async () => {
  harness = await createHarness({ RATE_LIMIT_USER_REQUESTS_MAX: '10' });
});

after(async () => {
  await harness.close();
});

async function withTrust(score: number): Promise<LoggedInCustomer> {
  const customer = await loginCustomer(harness.app);
  await withScope(harness.database.db, { tenantId: customer.tenantId }, (transaction) =>
    transaction.updateTable('users').set({ trust_score: score }).where('id', '=', customer.userId).execute(),
  );
  return customer;
}

async function burst(customer: { accessToken: string }, count: number) {
  // The first request reads the score in the background; the burst counts at the user's multiplier.
  await harness.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(customer) });
  await sleep(100);
  const statuses: number[] = [];
  let limit: string | undefined;
  for (let index = 0; index < count; index += 1) {
    const answer = await harness.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(customer) });
    statuses.push(answer.statusCode);
    limit ??= String(answer.headers['ratelimit-limit']);
  }
  return { allowed: 1 + statuses.filter((status) => status === 200).length, limit };
}

describe('adaptive per-user limits', () => {
  test('the multiplier follows the trust score, and the limit never drops below one request', () => {
    assert.deepEqual(
      [100, 80, 79, 50, 49, 20, 19, 0].map(trustMultiplier),
      [2, 2, 1, 1, 0.5, 0.5, 0.25, 0.25],
    );
    assert.equal(adaptiveLimit(10, 0.25), 2);
    assert.equal(adaptiveLimit(1, 0.25), 1);
  });

  test('regression (review): a trusted device raises a user in good standing, never a penalised one, and never lowers', () => {
    assert.equal(combinedTrustScore({ user: 60, device: 100 }), 80);
    assert.equal(combinedTrustScore({ user: 10, device: 100 }), 10, 'lockouts are not undone by a device');
    assert.equal(combinedTrustScore({ user: 90, device: 50 }), 90, 'a new trusted device does not lower');
    assert.equal(combinedTrustScore({ user: 60, device: undefined }), 60);
  });

  test('a trusted user gets twice the base, a default user the base, a distrusted user a quarter', async () => {
    const trusted = await burst(await withTrust(90), 25);
    const ordinary = await burst(await withTrust(50), 25);
    const distrusted = await burst(await withTrust(10), 25);
    assert.deepEqual(
      [trusted.allowed, ordinary.allowed, distrusted.allowed],
      [20, 10, 2],
      JSON.stringify({ trusted, ordinary, distrusted }),
    );
    assert.deepEqual([trusted.limit, ordinary.limit, distrusted.limit], ['20', '10', '2']);
  });

  test("a session from a trusted device counts the mean of the user's and the device's trust", async () => {
    const staff = await loginStaff(harness.app, 'manager');
    const login = (payload: Record<string, unknown>) =>
      harness.app.inject({
        method: 'POST',
        url: '/v1/admin/auth/login',
        payload: { email: staff.email, password: testStaffPassword, ...payload },
      });
    const remembered = await login({
      totp: generateTotp({ secretBase32: staff.totpSecret }, Date.now() + 30_000),
      remember_device: true,
      device: { type: 'web', name: 'Desk' },
    });
    assert.equal(remembered.statusCode, 200, remembered.body);
    const token = (remembered.json() as { trusted_device_token: string }).trusted_device_token;
    await withScope(harness.database.db, { tenantId: staff.tenantId }, async (transaction) => {
      await transaction
        .updateTable('users')
        .set({ trust_score: 60 })
        .where('id', '=', staff.userId)
        .execute();
      await transaction
        .updateTable('trusted_devices')
        .set({ trust_score: 100 })
        .where('user_id', '=', staff.userId)
        .execute();
    });
    const fromDevice = await login({ trusted_device_token: token });
    assert.equal(fromDevice.statusCode, 200, fromDevice.body);
    const deviceSession = { accessToken: (fromDevice.json() as { access_token: string }).access_token };
    // (60 + 100) / 2 = 80: twice the base. The helper's session (TOTP, no trusted device): 60, the base.
    // Both count against the user's one counter; the maximum is the session's.
    const onDevice = await burst(deviceSession, 25);
    assert.equal(onDevice.allowed, 20, JSON.stringify(onDevice));
    const elsewhere = await burst(staff, 1);
    assert.deepEqual([onDevice.limit, elsewhere.limit], ['20', '10']);
    assert.equal(
      elsewhere.allowed,
      1,
      'its second request is refused: the user counter is past this session maximum',
    );
    const sessions = await withScope(harness.database.db, { tenantId: staff.tenantId }, (transaction) =>
      transaction
        .selectFrom('device_sessions')
        .select(['trusted_device_id'])
        .where('user_id', '=', staff.userId)
        .orderBy('created_at')
        .execute(),
    );
    assert.equal(sessions.length, 3);
    assert.equal(sessions[0]?.trusted_device_id, null, 'the helper logged in with TOTP only');
    assert.ok(sessions[1]?.trusted_device_id, 'the remembering login came from the device it trusted');
    assert.equal(sessions[2]?.trusted_device_id, sessions[1]?.trusted_device_id);
  });
});
