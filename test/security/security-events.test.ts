import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { generateTotp } from '../../src/modules/mfa/totp.ts';
import {
  bearer,
  ensureTenant,
  type LoggedInCustomer,
  loginCustomer,
  registerEmailCustomer,
  testMotherName,
} from '../helpers/auth.ts';
import { createHarness, type Harness } from '../identity/harness.ts';

/*
 * Issue 10 items 1 and 2: every authentication path writes its security event, in the transaction of
 * the change, with the user, the address, the hashed device fingerprint, the location and scores; and
 * every audit row carries the status its request answered with.
 */

let harness: Harness;
let tenantId: string;
const password = 'Correct-Horse-Battery-2026';
// TEST-NET-3 (RFC 5737): public in form, absent from the GeoIP data; 81.2.69.160 is in it (GB).
const homeAddress = '203.0.113.10';
const foreignAddress = '81.2.69.160';

before(async () => {
  harness = await createHarness({ TRUST_PROXY: 'true', LOCKOUT_THRESHOLD: '3' });
  tenantId = await ensureTenant(harness.app);
});

after(async () => {
  await harness.close();
});

interface EventRow {
  id: string;
  event_type: string;
  event_category: string;
  severity: string;
  user_id: string | null;
  ip_address: string | null;
  device_fingerprint: string | null;
  geolocation: Record<string, unknown> | null;
  risk_score: string | null;
  fraud_score: string | null;
  anomaly_score: string | null;
  action_taken: string | null;
  details: Record<string, unknown>;
}

async function eventsOf(userId: string, type: string): Promise<EventRow[]> {
  return withScope(harness.app.database.db, { tenantId }, (transaction) =>
    transaction
      .selectFrom('security_events')
      .selectAll()
      .where('user_id', '=', userId)
      .where('event_type', '=', type)
      .orderBy('created_at')
      .orderBy('id')
      .execute(),
  ) as Promise<EventRow[]>;
}

function riskOf(event: EventRow | undefined): number {
  assert.ok(event, 'the event was written');
  return Number(event.risk_score);
}

function assertScored(event: EventRow | undefined, userId: string, ipAddress: string): void {
  assert.ok(event, 'the event was written');
  assert.equal(event.user_id, userId);
  assert.equal(event.ip_address, ipAddress);
  const risk = Number(event.risk_score);
  assert.ok(Number.isFinite(risk) && risk >= 0 && risk <= 100, `risk ${event.risk_score}`);
  // Seed 003 stores fraud and anomaly as probabilities: the 0–100 scores / 100.
  for (const score of [event.fraud_score, event.anomaly_score]) {
    const value = Number(score);
    assert.ok(Number.isFinite(value) && value >= 0 && value <= 1, `score ${score}`);
  }
}

async function emailLogin(email: string, secret: string, address: string, fingerprint?: string) {
  return harness.app.inject({
    method: 'POST',
    url: '/v1/auth/email/login',
    headers: {
      'x-forwarded-for': address,
      ...(fingerprint ? { 'x-device-fingerprint': fingerprint } : {}),
    },
    payload: { email, password: secret },
  });
}

describe('authentication writes its security events', () => {
  test('a failed PIN login is USER_LOGIN_FAILED with the user, the address and scores', async () => {
    const customer = await loginCustomer(harness.app);
    const refused = await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/banking/login',
      headers: { 'x-forwarded-for': homeAddress },
      payload: {
        name: customer.name,
        phone: customer.phone,
        account_number: customer.accountNumber,
        mother_name: testMotherName,
        pin: '000000',
        device: { type: 'android', id: 'device-x', name: 'Phone' },
      },
    });
    assert.equal(refused.statusCode, 401);
    const [event] = await eventsOf(customer.userId, 'USER_LOGIN_FAILED');
    assertScored(event, customer.userId, homeAddress);
    assert.equal(event?.event_category, 'authentication');
    assert.equal(event?.action_taken, 'deny');
    assert.equal(event?.details.method, 'banking_pin');
  });

  test('failed password logins are USER_LOGIN_FAILED; the lockout is ACCOUNT_LOCKED, and risk grows with the failures', async () => {
    const { email, userId } = await registerEmailCustomer(harness.app, password);
    const answers: number[] = [];
    for (let attempt = 0; attempt < 3; attempt += 1)
      answers.push((await emailLogin(email, 'Wrong-Password-2026!', homeAddress)).statusCode);
    assert.deepEqual(answers, [401, 401, 423]);
    const failures = await eventsOf(userId, 'USER_LOGIN_FAILED');
    assert.equal(failures.length, 3);
    for (const failure of failures) assertScored(failure, userId, homeAddress);
    assert.ok(riskOf(failures[2]) > riskOf(failures[0]), 'recent failures raise the risk');
    const [locked] = await eventsOf(userId, 'ACCOUNT_LOCKED');
    assertScored(locked, userId, homeAddress);
    assert.equal(locked?.action_taken, 'lock');
    assert.ok(riskOf(locked) >= 60);
  });

  test('a login is USER_LOGIN_SUCCESS and SESSION_CREATED; a logout is SESSION_TERMINATED', async () => {
    const customer = await loginCustomer(harness.app);
    const [created] = await eventsOf(customer.userId, 'SESSION_CREATED');
    assertScored(created, customer.userId, '127.0.0.1');
    assert.equal(created?.event_category, 'session');
    assert.equal(created?.details.session_id, customer.sessionId);
    assert.equal((await eventsOf(customer.userId, 'USER_LOGIN_SUCCESS')).length, 1);
    const logout = await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      headers: bearer(customer),
    });
    assert.equal(logout.statusCode, 200);
    const [ended] = await eventsOf(customer.userId, 'SESSION_TERMINATED');
    assert.ok(ended);
    assert.deepEqual(ended.details.session_ids, [customer.sessionId]);
  });

  test('a password change is PASSWORD_CHANGED and turning MFA on is MFA_ENABLED', async () => {
    const { email, userId } = await registerEmailCustomer(harness.app, password);
    const login = await emailLogin(email, password, homeAddress);
    assert.equal(login.statusCode, 200, login.body);
    const token = (login.json() as { access_token: string }).access_token;
    const changed = await harness.app.inject({
      method: 'POST',
      url: '/v1/me/password',
      headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': homeAddress },
      payload: {
        current_password: password,
        new_password: 'Another-Long-Password-2027',
        end_other_sessions: false,
      },
    });
    assert.equal(changed.statusCode, 200, changed.body);
    assertScored((await eventsOf(userId, 'PASSWORD_CHANGED'))[0], userId, homeAddress);

    const customer = await loginCustomer(harness.app);
    const enrol = await harness.app.inject({
      method: 'POST',
      url: '/v1/me/mfa/totp/enroll',
      headers: bearer(customer),
    });
    assert.equal(enrol.statusCode, 200, enrol.body);
    const { secret } = enrol.json() as { secret: string };
    const confirm = await harness.app.inject({
      method: 'POST',
      url: '/v1/me/mfa/totp/confirm',
      headers: bearer(customer),
      payload: { code: generateTotp({ secretBase32: secret }, Date.now()) },
    });
    assert.equal(confirm.statusCode, 200, confirm.body);
    assertScored((await eventsOf(customer.userId, 'MFA_ENABLED'))[0], customer.userId, '127.0.0.1');
  });
});

describe('scores, fingerprint and location', () => {
  test('a known device and address score low; a new device from a new country scores higher', async () => {
    const { email, userId } = await registerEmailCustomer(harness.app, password);
    assert.equal((await emailLogin(email, password, homeAddress, 'phone-install-1')).statusCode, 200);
    assert.equal((await emailLogin(email, password, homeAddress, 'phone-install-1')).statusCode, 200);
    assert.equal((await emailLogin(email, password, foreignAddress, 'laptop-install-2')).statusCode, 200);
    const [first, known, stranger] = await eventsOf(userId, 'USER_LOGIN_SUCCESS');
    assert.equal(riskOf(first), 0, 'a first login has no history to be new against');
    assert.equal(riskOf(known), 0, 'the same device and address again is not risky');
    assert.equal(known?.severity, 'low');
    assert.ok(riskOf(stranger) >= 40, `a new device, address and country: ${stranger?.risk_score}`);
    assert.ok(Number(stranger?.anomaly_score) > Number(known?.anomaly_score));
    const sessions = await eventsOf(userId, 'SESSION_CREATED');
    assert.equal(riskOf(sessions[2]), riskOf(stranger), "the session's event carries the login's scores");
  });

  test('the device fingerprint is stored hashed: the raw value is in no row', async () => {
    const { email, userId } = await registerEmailCustomer(harness.app, password);
    const raw = `fingerprint-${userId}`;
    assert.equal((await emailLogin(email, password, homeAddress, raw)).statusCode, 200);
    const rows = await withScope(harness.app.database.db, { tenantId }, async (transaction) => ({
      events: await transaction
        .selectFrom('security_events')
        .selectAll()
        .where('user_id', '=', userId)
        .execute(),
      // A login's audit row names the user as its entity (no principal acts yet).
      audits: await transaction
        .selectFrom('audit_logs')
        .selectAll()
        .where('entity_id', '=', userId)
        .execute(),
      logins: await transaction
        .selectFrom('login_audits')
        .selectAll()
        .where('user_id', '=', userId)
        .execute(),
    }));
    const login = rows.events.find((row) => row.event_type === 'USER_LOGIN_SUCCESS');
    assert.match(login?.device_fingerprint ?? '', /^[0-9a-f]{64}$/);
    assert.ok(rows.audits.some((row) => row.device_fingerprint === login?.device_fingerprint));
    assert.ok(!JSON.stringify(rows).includes(raw), 'the raw fingerprint is stored nowhere');
  });

  test('an invalid fingerprint header is refused with 400 naming the header', async () => {
    const response = await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/email/login',
      headers: { 'x-device-fingerprint': 'x'.repeat(300) },
      payload: { email: 'nobody@example.com', password },
    });
    assert.equal(response.statusCode, 400);
    const body = response.json() as { error: { details: { field: string }[] } };
    assert.equal(body.error.details[0]?.field, 'X-Device-Fingerprint');
  });

  test('a public address through X-Forwarded-For (TRUST_PROXY) is located; 127.0.0.1 is not', async () => {
    const { email, userId } = await registerEmailCustomer(harness.app, password);
    assert.equal((await emailLogin(email, password, foreignAddress)).statusCode, 200);
    const direct = await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/email/login',
      payload: { email, password },
    });
    assert.equal(direct.statusCode, 200);
    const [abroad, local] = await eventsOf(userId, 'USER_LOGIN_SUCCESS');
    assert.equal(abroad?.ip_address, foreignAddress);
    assert.equal(abroad?.geolocation?.country, 'GB');
    assert.equal(local?.ip_address, '127.0.0.1');
    assert.equal(local?.geolocation, null);
    const audits = await withScope(harness.app.database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('audit_logs')
        .select(['ip_address', 'location'])
        .where('entity_id', '=', userId)
        .where('action', '=', 'LOGIN')
        .orderBy('created_at')
        .execute(),
    );
    assert.equal((audits[0]?.location as { country?: string } | null)?.country, 'GB');
    assert.equal(audits.at(-1)?.location, null);
  });
});

test('regression: a device session kept neither the fingerprint nor the location of the login that opened it', async () => {
  const { email, userId } = await registerEmailCustomer(harness.app, password);
  const raw = `session-fingerprint-${userId}`;
  assert.equal((await emailLogin(email, password, foreignAddress, raw)).statusCode, 200);
  const direct = await harness.app.inject({
    method: 'POST',
    url: '/v1/auth/email/login',
    payload: { email, password },
  });
  assert.equal(direct.statusCode, 200);
  const rows = await withScope(harness.app.database.db, { tenantId }, (transaction) =>
    transaction
      .selectFrom('device_sessions')
      .select(['device_fingerprint', 'location', 'ip_address'])
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .execute(),
  );
  const [abroad, local] = await eventsOf(userId, 'USER_LOGIN_SUCCESS');
  assert.equal(rows.length, 2);
  assert.equal(
    rows[0]?.device_fingerprint,
    abroad?.device_fingerprint,
    'the keyed hash, as the event has it',
  );
  assert.match(rows[0]?.device_fingerprint ?? '', /^[0-9a-f]{64}$/);
  assert.equal((rows[0]?.location as { country?: string } | null)?.country, 'GB');
  assert.equal(rows[1]?.device_fingerprint, null, 'no header, no fingerprint');
  assert.equal(local?.device_fingerprint ?? null, null);
  assert.equal(rows[1]?.location, null, 'a loopback address has no location');
  assert.ok(!JSON.stringify(rows).includes(raw), 'the raw fingerprint is stored nowhere');
});

describe('audit_logs.status_code', () => {
  async function auditStatuses(requestId: string): Promise<(number | null)[]> {
    const rows = await withScope(harness.app.database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('audit_logs')
        .select('status_code')
        .where('request_id', '=', requestId)
        .execute(),
    );
    return rows.map((row) => row.status_code);
  }

  async function assertAnswered(response: { statusCode: number; headers: Record<string, unknown> }) {
    const requestId = String(response.headers['x-request-id']);
    const statuses = await auditStatuses(requestId);
    assert.ok(statuses.length > 0, `request ${requestId} wrote audit rows`);
    assert.deepEqual(
      statuses,
      statuses.map(() => response.statusCode),
    );
  }

  test('every audit row of a login, a failed login, a transfer and a profile change has the answered status', async () => {
    const { email } = await registerEmailCustomer(harness.app, password);
    await assertAnswered(await emailLogin(email, password, homeAddress));
    const failed = await emailLogin(email, 'Wrong-Password-2026!', homeAddress);
    assert.equal(failed.statusCode, 401);
    await assertAnswered(failed);

    const alice: LoggedInCustomer = await loginCustomer(harness.app);
    const bob = await loginCustomer(harness.app);
    const topup = await harness.app.inject({
      method: 'POST',
      url: '/v1/transactions/topup',
      headers: bearer(alice),
      payload: { amount: 10_000 },
    });
    assert.equal(topup.statusCode, 201, topup.body);
    await assertAnswered(topup);
    const transfer = await harness.app.inject({
      method: 'POST',
      url: '/v1/transactions/transfer',
      headers: { ...bearer(alice), 'idempotency-key': `status-${alice.userId}` },
      payload: { to_account_number: bob.accountNumber, amount: 1_000 },
    });
    assert.equal(transfer.statusCode, 201, transfer.body);
    await assertAnswered(transfer);
    const profile = await harness.app.inject({
      method: 'PATCH',
      url: '/v1/me',
      headers: bearer(alice),
      payload: { name: 'Renamed For Status' },
    });
    assert.equal(profile.statusCode, 200, profile.body);
    await assertAnswered(profile);
  });

  test('no audit row written through HTTP in this suite lacks a status code', async () => {
    const missing = await withScope(harness.app.database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('audit_logs')
        .select(['action', 'api_endpoint'])
        .where('status_code', 'is', null)
        .where('request_id', 'is not', null)
        .execute(),
    );
    assert.deepEqual(missing, []);
  });
});

test('corebank_security_events_total counts the events by type and severity', async () => {
  const metrics = await harness.app.metrics.registry.getSingleMetricAsString(
    'corebank_security_events_total',
  );
  assert.match(metrics, /corebank_security_events_total\{type="USER_LOGIN_SUCCESS",severity="low"\} [1-9]/);
  assert.match(metrics, /corebank_security_events_total\{type="ACCOUNT_LOCKED",severity="[a-z]+"\} [1-9]/);
});
