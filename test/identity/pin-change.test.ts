import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { withScope } from '../../src/db/tenant-transaction.ts';
import {
  bearer,
  ensureTenant,
  fullBankingLogin,
  type LoggedIn,
  type LoggedInCustomer,
  latestCode,
  loginCustomer,
  loginStaff,
  registerEmailCustomer,
  startBankingLogin,
  testPin,
} from '../helpers/auth.ts';
import { answerCode, tally } from '../helpers/responses.ts';
import { whileInsertsFail } from './failure-injection.ts';
import { createHarness, type Harness, secretsNeverLeakTest } from './harness.ts';

/*
 * Issue 10: POST /v1/me/pin. A wrong current PIN is decided and counted as a wrong login PIN is (one
 * counter, under the account's row lock), so the route is no oracle past the lockout; a weak or
 * unchanged new PIN costs nothing and changes nothing; the new PIN, its audit row and its PIN_CHANGED
 * event commit together.
 */

let harness: Harness;
let tenantId: string;
let threshold: number;
const newPin = '730519';
const otherNewPin = '905173';
const burstSize = 40;

before(async () => {
  harness = await createHarness();
  harness.secrets.add(newPin);
  harness.secrets.add(otherNewPin);
  tenantId = await ensureTenant(harness.app);
  threshold = harness.config.authentication.lockoutThreshold;
});

after(async () => {
  await harness.close();
});

function scoped<T>(work: Parameters<typeof withScope<T>>[2]): Promise<T> {
  return withScope(harness.database.db, { tenantId }, work);
}

function changePin(login: Pick<LoggedIn, 'accessToken'>, payload: Record<string, unknown>) {
  return harness.app.inject({ method: 'POST', url: '/v1/me/pin', headers: bearer(login), payload });
}

function bankingLogin(customer: LoggedInCustomer, pin: string) {
  return startBankingLogin(harness.app, customer, pin);
}

/** Both steps of the banking login with this PIN; the verify step's answer. */
function fullLogin(customer: LoggedInCustomer, pin: string) {
  return fullBankingLogin(harness.app, customer, pin);
}

async function userRow(userId: string) {
  return scoped((transaction) =>
    transaction
      .selectFrom('users')
      .select(['pin_hash', 'failed_login_attempts', 'locked_until'])
      .where('id', '=', userId)
      .executeTakeFirstOrThrow(),
  );
}

async function failedPinChanges(userId: string) {
  const rows = await scoped((transaction) =>
    transaction
      .selectFrom('login_audits')
      .select(['status', 'failure_reason'])
      .where('user_id', '=', userId)
      .execute(),
  );
  return {
    failed: rows.filter((row) => row.status === 'failed' && row.failure_reason === 'pin_change_wrong_current')
      .length,
    blocked: rows.filter((row) => row.status === 'blocked').length,
  };
}

async function changeRecords(userId: string) {
  return scoped(async (transaction) => ({
    audits: await transaction
      .selectFrom('audit_logs')
      .select(['user_id', 'entity_id', 'new_values', 'request_id'])
      .where('action', '=', 'CHANGE_PIN')
      .where('entity_id', '=', userId)
      .execute(),
    events: await transaction
      .selectFrom('security_events')
      .select(['user_id', 'event_category', 'details', 'metadata'])
      .where('event_type', '=', 'PIN_CHANGED')
      .where('user_id', '=', userId)
      .execute(),
  }));
}

const wrongPin = (index: number) => String(200_000 + index);

describe('POST /v1/me/pin', () => {
  test('the right current PIN sets the new one: the login takes the new PIN and refuses the old', async () => {
    const customer = await loginCustomer(harness.app);
    const other = await fullLogin(customer, testPin);
    assert.equal(other.statusCode, 200, other.body);
    const before = await userRow(customer.userId);
    const changed = await changePin(customer, {
      current_pin: testPin,
      new_pin: newPin,
      end_other_sessions: true,
    });
    assert.equal(changed.statusCode, 200, changed.body);
    assert.deepEqual(changed.json(), { message: 'PIN changed.', sessions_ended: 1 });
    assert.ok(!changed.body.includes(newPin) && !changed.body.includes(testPin));
    const after = await userRow(customer.userId);
    assert.notEqual(after.pin_hash, before.pin_hash);
    assert.ok(after.pin_hash?.startsWith('pinhmac$') && !after.pin_hash.includes(newPin));
    const otherToken = (other.json() as { access_token: string }).access_token;
    const otherMe = await harness.app.inject({
      method: 'GET',
      url: '/v1/me',
      headers: bearer({ accessToken: otherToken }),
    });
    assert.equal(otherMe.statusCode, 401, 'end_other_sessions ended the other session');
    const me = await harness.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(customer) });
    assert.equal(me.statusCode, 200, 'the session that changed the PIN goes on');
    assert.equal(answerCode(await bankingLogin(customer, testPin)), 'INVALID_CREDENTIALS');
    assert.equal((await fullLogin(customer, newPin)).statusCode, 200);
  });

  test('the audit row and the PIN_CHANGED event name the user and were written by the change', async () => {
    const customer = await loginCustomer(harness.app);
    const changed = await changePin(customer, { current_pin: testPin, new_pin: newPin });
    assert.equal(changed.statusCode, 200, changed.body);
    assert.equal((changed.json() as { sessions_ended: number }).sessions_ended, 0);
    const requestId = changed.headers['x-request-id'];
    const { audits, events } = await changeRecords(customer.userId);
    assert.equal(audits.length, 1);
    assert.equal(audits[0]?.user_id, customer.userId);
    assert.deepEqual(audits[0]?.new_values, { credential_changed: 'pin', other_sessions_ended: 0 });
    assert.equal(events.length, 1);
    assert.equal(events[0]?.user_id, customer.userId);
    assert.equal(events[0]?.event_category, 'authentication');
    assert.equal((events[0]?.details as { via?: string } | undefined)?.via, 'current_pin');
    if (typeof requestId === 'string') {
      assert.equal(audits[0]?.request_id, requestId);
      assert.equal((events[0]?.metadata as { request_id?: string } | undefined)?.request_id, requestId);
    }
  });

  test('the PIN, its audit row and its event commit together: a failing event insert changes nothing', async () => {
    for (const table of ['security_events', 'audit_logs']) {
      const customer = await loginCustomer(harness.app);
      const before = await userRow(customer.userId);
      const failed = await whileInsertsFail(harness.database, table, () =>
        changePin(customer, { current_pin: testPin, new_pin: newPin }),
      );
      assert.equal(failed.statusCode, 500, `${table}: ${failed.body}`);
      assert.equal((await userRow(customer.userId)).pin_hash, before.pin_hash, `${table}: PIN unchanged`);
      assert.deepEqual(await changeRecords(customer.userId), { audits: [], events: [] }, table);
      assert.equal(answerCode(await bankingLogin(customer, newPin)), 'INVALID_CREDENTIALS');
    }
  });

  test('weak, unchanged and malformed new PINs are refused before an attempt is spent; nothing changes', async () => {
    const customer = await loginCustomer(harness.app);
    const before = await userRow(customer.userId);
    for (const weak of ['111111', '000000', '123456', '345678', '987654', testPin]) {
      const refused = await changePin(customer, { current_pin: testPin, new_pin: weak });
      assert.equal(refused.statusCode, 400, `${weak}: ${refused.body}`);
      assert.equal(answerCode(refused), 'WEAK_PIN', weak);
      const [detail] = (refused.json() as { error: { details: { field: string }[] } }).error.details;
      assert.equal(detail?.field, 'body.new_pin');
    }
    // A weak new PIN with a wrong current one: still no attempt spent (the rule needs no secret).
    assert.equal(
      answerCode(await changePin(customer, { current_pin: '555123', new_pin: '222222' })),
      'WEAK_PIN',
    );
    const nul = String.fromCharCode(0);
    for (const malformed of ['12345', '1234567', 'abcdef', `73051${nul}`, '７３０５１９', '\ud800305199']) {
      const refused = await changePin(customer, { current_pin: testPin, new_pin: malformed });
      assert.equal(answerCode(refused), 'VALIDATION_FAILED', JSON.stringify(malformed));
    }
    const extra = await changePin(customer, { current_pin: testPin, new_pin: newPin, pin: '111111' });
    assert.equal(answerCode(extra), 'VALIDATION_FAILED', 'unknown fields are refused');
    const after = await userRow(customer.userId);
    assert.deepEqual(after, before, 'PIN hash and attempt count unchanged');
    assert.deepEqual(await changeRecords(customer.userId), { audits: [], events: [] });
    assert.equal((await failedPinChanges(customer.userId)).failed, 0);
  });

  test('staff and email accounts hold no PIN: refused as a wrong credential, nothing counted', async () => {
    const officer = await loginStaff(harness.app, 'officer');
    const password = 'an email customer passphrase';
    harness.secrets.add(password);
    const { email, userId } = await registerEmailCustomer(harness.app, password);
    const emailLogin = await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/email/login',
      payload: { email, password },
    });
    assert.equal(emailLogin.statusCode, 200, emailLogin.body);
    const emailSession = { accessToken: (emailLogin.json() as { access_token: string }).access_token };
    for (const [who, login, id] of [
      ['staff', officer, officer.userId],
      ['email customer', emailSession, userId],
    ] as const) {
      const refused = await changePin(login, { current_pin: testPin, new_pin: newPin });
      assert.equal(answerCode(refused), 'INVALID_CREDENTIALS', who);
      const row = await userRow(id);
      assert.equal(row.pin_hash, null, who);
      assert.equal(row.failed_login_attempts, 0, `${who}: nothing counted`);
    }
  });

  test('without a token the route answers 401', async () => {
    const response = await harness.app.inject({
      method: 'POST',
      url: '/v1/me/pin',
      payload: { current_pin: testPin, new_pin: newPin },
    });
    assert.equal(answerCode(response), 'UNAUTHENTICATED');
  });
});

describe('a wrong current PIN counts as a wrong login PIN', () => {
  test('wrong current PINs lock the account at the threshold; then the right PIN gets what the login gets', async () => {
    const customer = await loginCustomer(harness.app);
    const answers: string[] = [];
    for (let index = 0; index < threshold; index += 1)
      answers.push(answerCode(await changePin(customer, { current_pin: wrongPin(index), new_pin: newPin })));
    assert.deepEqual(answers, [...Array(threshold - 1).fill('INVALID_CREDENTIALS'), 'ACCOUNT_LOCKED']);
    assert.ok((await userRow(customer.userId)).locked_until !== null, 'the account is locked');
    const right = await changePin(customer, { current_pin: testPin, new_pin: newPin });
    assert.equal(right.statusCode, 423, right.body);
    assert.equal(answerCode(right), 'ACCOUNT_LOCKED');
    const login = await bankingLogin(customer, testPin);
    assert.equal(login.statusCode, 423, login.body);
    assert.equal(answerCode(login), answerCode(right), 'the same answer as the login');
    assert.deepEqual(await failedPinChanges(customer.userId), { failed: threshold, blocked: 2 });
    assert.deepEqual(await changeRecords(customer.userId), { audits: [], events: [] });
  });

  test('the change and the login share one counter: wrong PINs through either reach one threshold', async () => {
    const customer = await loginCustomer(harness.app);
    for (let index = 0; index < threshold - 1; index += 1) {
      const wrong = await changePin(customer, { current_pin: wrongPin(index), new_pin: newPin });
      assert.equal(answerCode(wrong), 'INVALID_CREDENTIALS');
    }
    assert.equal((await userRow(customer.userId)).failed_login_attempts, threshold - 1);
    const last = await bankingLogin(customer, wrongPin(99));
    assert.equal(answerCode(last), 'ACCOUNT_LOCKED', 'the login failure after them locks');
    const locked = await changePin(customer, { current_pin: testPin, new_pin: newPin });
    assert.equal(answerCode(locked), 'ACCOUNT_LOCKED');
  });

  test(`a burst of ${burstSize} concurrent wrong current PINs evaluates at most the threshold and locks`, async () => {
    const customer = await loginCustomer(harness.app);
    const burst = Promise.all(
      Array.from({ length: burstSize }, (_, index) =>
        changePin(customer, { current_pin: wrongPin(index), new_pin: newPin }),
      ),
    );
    // The right current PIN as soon as the lock shows (the burst still running on PostgreSQL).
    const deadline = Date.now() + 30_000;
    while ((await userRow(customer.userId)).locked_until === null && Date.now() < deadline) await sleep(2);
    const right = await changePin(customer, { current_pin: testPin, new_pin: otherNewPin });
    assert.deepEqual(tally(await burst), {
      INVALID_CREDENTIALS: threshold - 1,
      ACCOUNT_LOCKED: burstSize - threshold + 1,
    });
    assert.equal(answerCode(right), 'ACCOUNT_LOCKED', right.body);
    const records = await failedPinChanges(customer.userId);
    assert.equal(records.failed, threshold, `evaluated ${records.failed} guesses`);
    assert.equal(records.blocked, burstSize - threshold + 1);
    const row = await userRow(customer.userId);
    assert.ok(
      row.locked_until !== null && row.locked_until.getTime() > Date.now(),
      'the account ends locked',
    );
    assert.equal(answerCode(await bankingLogin(customer, testPin)), 'ACCOUNT_LOCKED');
    assert.deepEqual(await changeRecords(customer.userId), { audits: [], events: [] });
  });
});

secretsNeverLeakTest(() => harness);

describe('detection: the PIN change is a sensitive action', () => {
  let detecting: Harness;
  let detectingTenantId: string;

  before(async () => {
    detecting = await createHarness({
      DETECTION_ENABLED: 'true',
      DETECTION_BLOCK_CACHE_MS: '100',
      DETECTION_INLINE_REPEAT_MS: '50',
    });
    detectingTenantId = await ensureTenant(detecting.app);
  });

  after(async () => {
    await detecting.close();
  });

  async function threatTypes(userId: string) {
    const rows = await withScope(detecting.database.db, { tenantId: detectingTenantId }, (transaction) =>
      transaction
        .selectFrom('threat_events')
        .select(['threat_type', 'indicators'])
        .where(sql<boolean>`${userId}::uuid = any(affected_user_ids)`)
        .execute(),
    );
    return rows;
  }

  test('a login from a new device and address followed by a PIN change is an account takeover', async () => {
    const owner = await loginCustomer(detecting.app);
    const attacker = `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
    const started = await detecting.app.inject({
      method: 'POST',
      url: '/v1/auth/banking/login',
      remoteAddress: attacker,
      payload: {
        name: owner.name,
        phone: owner.phone,
        account_number: owner.accountNumber,
        mother_name: owner.motherName,
        pin: testPin,
        device: { type: 'android', id: `intruder-${randomInt(1e9)}`, name: 'Other Phone' },
      },
    });
    assert.equal(started.statusCode, 200, started.body);
    const { login_token } = started.json() as { login_token: string };
    const otp = await latestCode(detecting.app, owner.phone);
    const verified = await detecting.app.inject({
      method: 'POST',
      url: '/v1/auth/banking/verify',
      remoteAddress: attacker,
      payload: { login_token, otp },
    });
    assert.equal(verified.statusCode, 200, verified.body);
    const accessToken = (verified.json() as { access_token: string }).access_token;
    const changed = await detecting.app.inject({
      method: 'POST',
      url: '/v1/me/pin',
      remoteAddress: attacker,
      headers: bearer({ accessToken }),
      payload: { current_pin: testPin, new_pin: newPin },
    });
    assert.equal(changed.statusCode, 200, changed.body);
    const deadline = Date.now() + 5000;
    let takeover: { indicators: string[] } | undefined;
    while (!takeover && Date.now() < deadline) {
      takeover = (await threatTypes(owner.userId)).find((row) => row.threat_type === 'account_takeover');
      if (!takeover) await sleep(25);
    }
    assert.ok(takeover?.indicators.includes('change:CHANGE_PIN'), JSON.stringify(takeover));
  });

  test('a pending step-up refuses the PIN change with STEP_UP_REQUIRED and changes nothing', async () => {
    const customer = await loginCustomer(detecting.app);
    await withScope(detecting.database.db, { tenantId: detectingTenantId }, (transaction) =>
      transaction
        .insertInto('step_up_requirements')
        .values({ tenant_id: detectingTenantId, user_id: customer.userId, reason: 'test' })
        .execute(),
    );
    const deadline = Date.now() + 5000;
    // The step-up list is cached for DETECTION_BLOCK_CACHE_MS; until then the handler answers WEAK_PIN.
    let refused = await changePinIn(detecting, customer);
    while (answerCode(refused) === 'WEAK_PIN' && Date.now() < deadline) {
      await sleep(25);
      refused = await changePinIn(detecting, customer);
    }
    assert.equal(answerCode(refused), 'STEP_UP_REQUIRED', refused.body);
    const right = await changePinIn(detecting, customer, newPin);
    assert.equal(answerCode(right), 'STEP_UP_REQUIRED', 'the right PIN is refused too');
    const row = await withScope(detecting.database.db, { tenantId: detectingTenantId }, (transaction) =>
      transaction
        .selectFrom('users')
        .select(['failed_login_attempts'])
        .where('id', '=', customer.userId)
        .executeTakeFirstOrThrow(),
    );
    assert.equal(row.failed_login_attempts, 0, 'nothing was evaluated');
    assert.equal(answerCode(await changePinIn(detecting, customer, newPin, '555123')), 'STEP_UP_REQUIRED');
    await detecting.app.detection.settled();
  });
});

/** By default a weak new PIN: refused by the handler, so only the step-up check before it answers 403. */
function changePinIn(target: Harness, login: LoggedIn, pin = '111111', currentPin = testPin) {
  return target.app.inject({
    method: 'POST',
    url: '/v1/me/pin',
    headers: bearer(login),
    payload: { current_pin: currentPin, new_pin: pin },
  });
}
