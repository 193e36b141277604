import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { cleanupExpiredSessions } from '../../src/modules/sessions/sessions.service.ts';
import { bearer, ensureTenant, type LoggedIn, loginCustomer } from '../helpers/auth.ts';
import { createHarness, type Harness, secretsNeverLeakTest } from './harness.ts';

let harness: Harness;
let tenantId: string;

before(async () => {
  // A short grace window keeps the reuse tests fast and exact.
  harness = await createHarness({ REFRESH_REUSE_GRACE_SECONDS: '2' });
  tenantId = await ensureTenant(harness.app);
});

after(async () => {
  await harness.close();
});

interface Pair {
  access_token: string;
  refresh_token: string;
  session_id: string;
}

async function refresh(refreshToken: string) {
  return harness.app.inject({
    method: 'POST',
    url: '/v1/auth/refresh',
    payload: { refresh_token: refreshToken },
  });
}

async function me(accessToken: string) {
  return harness.app.inject({
    method: 'GET',
    url: '/v1/me',
    headers: { authorization: `Bearer ${accessToken}` },
  });
}

function code(response: { json(): unknown }): string {
  return (response.json() as { error: { code: string } }).error.code;
}

async function sessionRow(sessionId: string) {
  return withScope(harness.database.db, { tenantId }, (transaction) =>
    transaction
      .selectFrom('device_sessions')
      .selectAll()
      .where('id', '=', sessionId)
      .executeTakeFirstOrThrow(),
  );
}

/** Moves every rotation of the session back in time, beyond the grace window. */
async function ageRotations(sessionId: string): Promise<void> {
  await withScope(harness.database.db, { tenantId }, (transaction) =>
    transaction
      .updateTable('refresh_tokens')
      .set({ rotated_at: new Date(Date.now() - 60_000) })
      .where('session_id', '=', sessionId)
      .where('rotated_at', 'is not', null)
      .execute(),
  );
}

describe('refresh rotation', () => {
  test('each refresh returns a new pair in the same session, stored as hashes and logged', async () => {
    const customer = await loginCustomer(harness.app);
    const first = await refresh(customer.refreshToken);
    assert.equal(first.statusCode, 200, first.body);
    const pair = first.json() as Pair;
    assert.notEqual(pair.refresh_token, customer.refreshToken);
    assert.equal(pair.session_id, customer.sessionId);
    assert.equal((await me(pair.access_token)).statusCode, 200);
    const second = await refresh(pair.refresh_token);
    assert.equal(second.statusCode, 200);
    const tokens = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('refresh_tokens')
        .selectAll()
        .where('session_id', '=', customer.sessionId)
        .orderBy('created_at')
        .execute(),
    );
    assert.equal(tokens.length, 3);
    assert.equal(tokens.filter((token) => token.rotated_at === null).length, 1, 'exactly one current token');
    assert.ok(
      tokens.every((token) => /^[0-9a-f]{64}$/.test(token.token_hash)),
      'stored as hashes',
    );
    assert.equal(tokens[0]?.replaced_by_id, tokens[1]?.id);
    const logs = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('session_logs')
        .selectAll()
        .where('session_id', '=', customer.sessionId)
        .execute(),
    );
    assert.deepEqual(logs.map((log) => log.event_type).sort(), ['CREATED', 'REFRESHED', 'REFRESHED']);
    assert.ok(
      logs.every((log) => log.refresh_token_hash !== null && !log.refresh_token_hash.startsWith('rt_')),
    );
  });

  test('a reused refresh token revokes the whole session and records a security event', async () => {
    const customer = await loginCustomer(harness.app);
    const rotated = (await refresh(customer.refreshToken)).json() as Pair;
    await ageRotations(customer.sessionId);
    const reuse = await refresh(customer.refreshToken);
    assert.equal(reuse.statusCode, 401);
    assert.equal(code(reuse), 'REFRESH_TOKEN_REUSED');
    // Both the thief's and the owner's tokens are dead now.
    assert.equal((await refresh(rotated.refresh_token)).statusCode, 401);
    assert.equal((await me(rotated.access_token)).statusCode, 401);
    const session = await sessionRow(customer.sessionId);
    assert.equal(session.is_active, false);
    assert.equal(session.logout_reason, 'refresh_reuse');
    const events = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('security_events')
        .selectAll()
        .where('user_id', '=', customer.userId)
        .where('event_type', 'in', ['REFRESH_TOKEN_REUSE', 'SESSION_TERMINATED'])
        .orderBy('created_at')
        .execute(),
    );
    // The session's ending (refresh_reuse) and the reuse itself, in the revoking transaction.
    assert.deepEqual(events.map((event) => [event.event_type, event.severity]).sort(), [
      ['REFRESH_TOKEN_REUSE', 'high'],
      ['SESSION_TERMINATED', 'low'],
    ]);
  });

  test('an immediate retry within the grace window gets a current pair instead of a revocation', async () => {
    const customer = await loginCustomer(harness.app);
    const first = await refresh(customer.refreshToken);
    const retry = await refresh(customer.refreshToken);
    assert.equal(first.statusCode, 200);
    assert.equal(retry.statusCode, 200, retry.body);
    const pair = retry.json() as Pair;
    assert.equal((await me(pair.access_token)).statusCode, 200);
    assert.equal((await refresh(pair.refresh_token)).statusCode, 200);
    assert.equal((await sessionRow(customer.sessionId)).is_active, true);
  });

  test('an unknown, expired or revoked refresh token is 401 REFRESH_TOKEN_INVALID', async () => {
    assert.equal(code(await refresh('rt_this-token-was-never-issued-by-anyone')), 'REFRESH_TOKEN_INVALID');
    const customer = await loginCustomer(harness.app);
    await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .updateTable('refresh_tokens')
        .set({ expires_at: new Date(Date.now() - 1000) })
        .where('session_id', '=', customer.sessionId)
        .execute(),
    );
    assert.equal(code(await refresh(customer.refreshToken)), 'REFRESH_TOKEN_INVALID');
    const other = await loginCustomer(harness.app);
    await harness.app.inject({ method: 'POST', url: '/v1/auth/logout', headers: bearer(other) });
    assert.equal(code(await refresh(other.refreshToken)), 'REFRESH_TOKEN_INVALID');
  });
});

describe('logout, logout-all, sessions list and revoke', () => {
  async function secondDevice(customer: LoggedIn & { phone: string; accountNumber: string; name: string }) {
    return loginCustomer(harness.app, {
      phone: customer.phone,
      accountNumber: customer.accountNumber,
      name: customer.name,
    });
  }

  test("GET /v1/me/sessions lists the caller's active sessions and marks the current one", async () => {
    const customer = await loginCustomer(harness.app);
    const other = await secondDevice(customer);
    const response = await harness.app.inject({
      method: 'GET',
      url: '/v1/me/sessions',
      headers: bearer(other),
    });
    assert.equal(response.statusCode, 200);
    const sessions = (
      response.json() as {
        sessions: { id: string; current: boolean; device_type: string; ip_address: string }[];
      }
    ).sessions;
    assert.deepEqual(
      sessions.map((session) => session.id).sort(),
      [customer.sessionId, other.sessionId].sort(),
    );
    assert.deepEqual(
      sessions.filter((session) => session.current).map((session) => session.id),
      [other.sessionId],
    );
    assert.equal(sessions[0]?.device_type, 'android');
    assert.equal(sessions[0]?.ip_address, '127.0.0.1');
  });

  test('logout-all with keep_current ends the others only; without it, all', async () => {
    const customer = await loginCustomer(harness.app);
    const second = await secondDevice(customer);
    const third = await secondDevice(customer);
    const keep = await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/logout-all',
      headers: bearer(third),
      payload: { keep_current: true },
    });
    assert.equal(keep.statusCode, 200);
    assert.equal((keep.json() as { sessions_ended: number }).sessions_ended, 2);
    assert.equal((await me(customer.accessToken)).statusCode, 401);
    assert.equal((await me(second.accessToken)).statusCode, 401);
    assert.equal((await me(third.accessToken)).statusCode, 200);
    const all = await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/logout-all',
      headers: bearer(third),
      payload: {},
    });
    assert.equal((all.json() as { sessions_ended: number }).sessions_ended, 1);
    assert.equal((await me(third.accessToken)).statusCode, 401);
    const logouts = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('login_audits')
        .select('login_type')
        .where('user_id', '=', customer.userId)
        .where('login_type', '=', 'user_logout')
        .execute(),
    );
    assert.equal(logouts.length, 2);
  });

  test("DELETE /v1/me/sessions/{id} ends one of mine; user A cannot see or revoke user B's sessions", async () => {
    const alice = await loginCustomer(harness.app);
    const aliceOther = await secondDevice(alice);
    const bob = await loginCustomer(harness.app);
    const foreign = await harness.app.inject({
      method: 'DELETE',
      url: `/v1/me/sessions/${bob.sessionId}`,
      headers: bearer(alice),
    });
    assert.equal(foreign.statusCode, 404);
    assert.equal((await me(bob.accessToken)).statusCode, 200, "Bob's session survived Alice's attempt");
    const list = await harness.app.inject({ method: 'GET', url: '/v1/me/sessions', headers: bearer(alice) });
    const ids = (list.json() as { sessions: { id: string }[] }).sessions.map((session) => session.id);
    assert.ok(!ids.includes(bob.sessionId));
    const own = await harness.app.inject({
      method: 'DELETE',
      url: `/v1/me/sessions/${aliceOther.sessionId}`,
      headers: bearer(alice),
    });
    assert.equal(own.statusCode, 204);
    assert.equal((await me(aliceOther.accessToken)).statusCode, 401);
    assert.equal((await me(alice.accessToken)).statusCode, 200);
    const again = await harness.app.inject({
      method: 'DELETE',
      url: `/v1/me/sessions/${aliceOther.sessionId}`,
      headers: bearer(alice),
    });
    assert.equal(again.statusCode, 404);
  });
});

describe('scheduled cleanup', () => {
  test('cleanupExpiredSessions expires idle sessions (EXPIRED log) and deletes dead OTP sessions', async () => {
    const customer = await loginCustomer(harness.app);
    await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .updateTable('device_sessions')
        .set({ expires_at: new Date(Date.now() - 1000) })
        .where('id', '=', customer.sessionId)
        .execute(),
    );
    const result = await cleanupExpiredSessions(harness.database.db);
    assert.ok(result.expiredSessions >= 1);
    assert.ok(result.deletedOtpSessions >= 1, 'used OTP sessions are gone');
    const session = await sessionRow(customer.sessionId);
    assert.equal(session.is_active, false);
    assert.equal(session.logout_reason, 'expired');
    const remaining = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction.selectFrom('otp_sessions').select('id').where('is_used', '=', true).execute(),
    );
    assert.equal(remaining.length, 0);
    const logs = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('session_logs')
        .select('event_type')
        .where('session_id', '=', customer.sessionId)
        .execute(),
    );
    assert.ok(logs.some((log) => log.event_type === 'EXPIRED'));
  });
});

secretsNeverLeakTest(() => harness);
