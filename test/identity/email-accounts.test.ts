import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { ensureTenant } from '../helpers/auth.ts';
import { createHarness, type Harness, secretsNeverLeakTest } from './harness.ts';

let harness: Harness;
let tenantId: string;

const password = 'a perfectly long passphrase';
const newPassword = 'another quite long passphrase';

before(async () => {
  harness = await createHarness();
  harness.secrets.add(password);
  harness.secrets.add(newPassword);
  tenantId = await ensureTenant(harness.app);
});

after(async () => {
  await harness.close();
});

function code(response: { json(): unknown }): string {
  return (response.json() as { error: { code: string } }).error.code;
}

function newEmail(): string {
  return `person-${randomInt(1_000_000_000)}@example.com`;
}

async function post(url: string, payload: unknown, headers: Record<string, string> = {}) {
  return harness.app.inject({ method: 'POST', url, payload: payload as Record<string, unknown>, headers });
}

async function outbox(to: string): Promise<{ subject: string; body: string }[]> {
  const response = await harness.app.inject({
    method: 'GET',
    url: `/v1/dev/outbox?to=${encodeURIComponent(to)}`,
  });
  return (response.json() as { messages: { subject: string; body: string }[] }).messages;
}

async function linkToken(to: string): Promise<string> {
  const [latest] = await outbox(to);
  const token = latest?.body.match(/token=([A-Za-z0-9_-]+)/)?.[1];
  assert.ok(token, 'a link with a token was emailed');
  return token;
}

async function registeredAndVerified(): Promise<string> {
  const email = newEmail();
  assert.equal(
    (await post('/v1/auth/email/register', { email, password, name: 'Email Person' })).statusCode,
    202,
  );
  assert.equal((await post('/v1/auth/email/verify', { token: await linkToken(email) })).statusCode, 200);
  return email;
}

async function login(email: string, secret = password) {
  return post('/v1/auth/email/login', { email, password: secret });
}

describe('registration and email verification', () => {
  test('register → verification link → verify (single use) → login', async () => {
    const email = newEmail();
    const registered = await post('/v1/auth/email/register', { email, password, name: 'Email Person' });
    assert.equal(registered.statusCode, 202);
    const early = await login(email);
    assert.equal(early.statusCode, 403);
    assert.equal(code(early), 'EMAIL_NOT_VERIFIED');
    const token = await linkToken(email);
    assert.equal((await post('/v1/auth/email/verify', { token })).statusCode, 200);
    const reused = await post('/v1/auth/email/verify', { token });
    assert.equal(reused.statusCode, 400);
    assert.equal(code(reused), 'VERIFICATION_TOKEN_INVALID');
    const ok = await login(email);
    assert.equal(ok.statusCode, 200, ok.body);
    const stored = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction.selectFrom('verification_tokens').select('token_hash').execute(),
    );
    assert.ok(stored.every((row) => row.token_hash !== token && /^[0-9a-f]{64}$/.test(row.token_hash)));
  });

  test('registering a taken email answers exactly as a new one and creates nothing', async () => {
    const email = await registeredAndVerified();
    const fresh = await post('/v1/auth/email/register', { email: newEmail(), password, name: 'Someone' });
    const taken = await post('/v1/auth/email/register', { email, password, name: 'Someone Else' });
    assert.equal(taken.statusCode, fresh.statusCode);
    assert.equal(
      (taken.json() as { message: string }).message,
      (fresh.json() as { message: string }).message,
    );
    const rows = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction.selectFrom('users').select('id').where('email', '=', email).execute(),
    );
    assert.equal(rows.length, 1);
  });

  test('the password policy rejects short and common passwords', async () => {
    for (const weak of ['short', 'password1234', 'qwerty123456', 'aaaaaaaaaaaaaaaa']) {
      const response = await post('/v1/auth/email/register', {
        email: newEmail(),
        password: weak,
        name: 'Weak',
      });
      assert.equal(response.statusCode, 400, weak);
      assert.equal(code(response), 'WEAK_PASSWORD');
    }
  });
});

describe('forgotten and changed passwords', () => {
  test('forgot answers the same for unknown emails; reset sets the password, ends sessions, and is single-use', async () => {
    const email = await registeredAndVerified();
    const session = (await login(email)).json() as { access_token: string };
    const unknown = await post('/v1/auth/password/forgot', { email: newEmail() });
    const known = await post('/v1/auth/password/forgot', { email });
    assert.equal(unknown.statusCode, 202);
    assert.equal(
      known.body.replace(/"request_id":"[^"]+"/, ''),
      unknown.body.replace(/"request_id":"[^"]+"/, ''),
    );
    const token = await linkToken(email);
    const weak = await post('/v1/auth/password/reset', { token, new_password: 'short' });
    assert.equal(code(weak), 'WEAK_PASSWORD');
    const reset = await post('/v1/auth/password/reset', { token, new_password: newPassword });
    assert.equal(reset.statusCode, 200, reset.body);
    assert.equal(
      (await post('/v1/auth/password/reset', { token, new_password: newPassword })).statusCode,
      400,
    );
    const me = await harness.app.inject({
      method: 'GET',
      url: '/v1/me',
      headers: { authorization: `Bearer ${session.access_token}` },
    });
    assert.equal(me.statusCode, 401, 'the reset ended every session');
    assert.equal(code(await login(email)), 'INVALID_CREDENTIALS');
    assert.equal((await login(email, newPassword)).statusCode, 200);
  });

  test('change password: a wrong current password is refused; end_other_sessions keeps only this one', async () => {
    const email = await registeredAndVerified();
    const first = (await login(email)).json() as { access_token: string };
    const second = (await login(email)).json() as { access_token: string };
    const headers = { authorization: `Bearer ${second.access_token}` };
    const wrong = await post(
      '/v1/me/password',
      { current_password: 'not my password!', new_password: newPassword },
      headers,
    );
    assert.equal(code(wrong), 'INVALID_CREDENTIALS');
    const changed = await post(
      '/v1/me/password',
      { current_password: password, new_password: newPassword, end_other_sessions: true },
      headers,
    );
    assert.equal(changed.statusCode, 200, changed.body);
    assert.equal((changed.json() as { sessions_ended: number }).sessions_ended, 1);
    const firstMe = await harness.app.inject({
      method: 'GET',
      url: '/v1/me',
      headers: { authorization: `Bearer ${first.access_token}` },
    });
    assert.equal(firstMe.statusCode, 401);
    assert.equal((await harness.app.inject({ method: 'GET', url: '/v1/me', headers })).statusCode, 200);
    assert.equal((await login(email, newPassword)).statusCode, 200);
  });
});

describe('brute force', () => {
  test('password guessing locks the account; every attempt is in login_audits', async () => {
    const email = await registeredAndVerified();
    const codes: string[] = [];
    for (let attempt = 0; attempt < 5; attempt += 1)
      codes.push(code(await login(email, `guess number ${attempt} abc`)));
    assert.equal(codes.at(-1), 'ACCOUNT_LOCKED');
    const right = await login(email);
    assert.equal(right.statusCode, 423);
    const audits = await withScope(harness.database.db, { tenantId }, async (transaction) => {
      const user = await transaction
        .selectFrom('users')
        .select('id')
        .where('email', '=', email)
        .executeTakeFirstOrThrow();
      return transaction.selectFrom('login_audits').select('status').where('user_id', '=', user.id).execute();
    });
    const counts: Record<string, number> = {};
    for (const row of audits) counts[row.status] = (counts[row.status] ?? 0) + 1;
    assert.deepEqual(counts, { failed: 5, blocked: 1 });
  });

  test('per-IP counter: too many failures from one address block it, whatever account it tries', async () => {
    const strict = await createHarness({ LOGIN_IP_FAILURES_MAX: '3' });
    try {
      await ensureTenant(strict.app);
      const email = newEmail();
      await strict.app.inject({
        method: 'POST',
        url: '/v1/auth/email/register',
        payload: { email, password, name: 'Victim' },
      });
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const response = await strict.app.inject({
          method: 'POST',
          url: '/v1/auth/email/login',
          payload: { email: newEmail(), password: 'wrong passphrase here' },
        });
        assert.equal(response.statusCode, 401);
      }
      const blocked = await strict.app.inject({
        method: 'POST',
        url: '/v1/auth/email/login',
        payload: { email, password },
      });
      assert.equal(blocked.statusCode, 429);
      assert.equal(code(blocked), 'TOO_MANY_ATTEMPTS');
      await strict.app.inject({ method: 'POST', url: '/v1/auth/email/login', payload: { email, password } });
      const strictTenant = await ensureTenant(strict.app);
      const events = await withScope(strict.database.db, { tenantId: strictTenant }, (transaction) =>
        transaction
          .selectFrom('security_events')
          .select(['event_type', 'ip_address'])
          .where('event_type', '=', 'LOGIN_IP_BLOCKED')
          .execute(),
      );
      assert.deepEqual(
        events,
        [{ event_type: 'LOGIN_IP_BLOCKED', ip_address: '127.0.0.1' }],
        'one event per window',
      );
    } finally {
      await strict.close();
    }
  });
});

secretsNeverLeakTest(() => harness);
