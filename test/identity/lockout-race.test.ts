import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { unknownIdentifier } from '../../src/modules/identity/login-attempts.ts';
import { generateTotp } from '../../src/modules/mfa/totp.ts';
import {
  ensureTenant,
  latestCode,
  loginCustomer,
  loginStaff,
  registerEmailCustomer,
  testPin,
  testStaffPassword,
} from '../helpers/auth.ts';
import { answerCode, tally } from '../helpers/responses.ts';
import { createHarness, type Harness, secretsNeverLeakTest } from './harness.ts';

/*
 * Issue 7.2: 40 concurrent wrong PINs for one customer had 21 evaluated before the lock (threshold 5),
 * and a right PIN as the 9th guess of such a burst logged in. Every counter now decides in one
 * conditional statement before the credential is evaluated. Each test sends a burst of 40 through HTTP
 * and counts what was evaluated from the login records (every evaluated wrong guess writes one
 * `failed` row; a refused one writes `blocked`). On PGlite the statements are serialized anyway; on
 * PostgreSQL the burst races for real over the connection pool.
 */

let harness: Harness;
let tenantId: string;
const burstSize = 40;
const threshold = 5;
const emailPassword = 'a perfectly long passphrase';

before(async () => {
  harness = await createHarness();
  harness.secrets.add(emailPassword);
  tenantId = await ensureTenant(harness.app);
});

after(async () => {
  await harness.close();
});

function post(url: string, payload: Record<string, unknown>) {
  return harness.app.inject({ method: 'POST', url, payload });
}

/** The login records of the burst: how many guesses were evaluated (failed) and refused (blocked). */
async function loginRecords(filter: { userId?: string; adminId?: string; identifier?: string }) {
  const rows = await withScope(harness.database.db, { tenantId }, (transaction) => {
    let query = transaction.selectFrom('login_audits').select(['status', 'failure_reason', 'device_info']);
    if (filter.userId) query = query.where('user_id', '=', filter.userId);
    if (filter.adminId) query = query.where('admin_id', '=', filter.adminId);
    if (filter.identifier)
      query = query.where(sql<string>`device_info ->> 'identifier'`, '=', filter.identifier);
    return query.execute();
  });
  const failed = rows.filter((row) => row.status === 'failed');
  return {
    failed,
    blocked: rows.filter((row) => row.status === 'blocked').length,
    attemptNumbers: failed.map((row) => Number(row.device_info?.attempt)).sort((a, b) => a - b),
  };
}

async function lockedUntil(userId: string): Promise<Date | null> {
  const row = await withScope(harness.database.db, { tenantId }, (transaction) =>
    transaction.selectFrom('users').select('locked_until').where('id', '=', userId).executeTakeFirstOrThrow(),
  );
  return row.locked_until;
}

/**
 * Sends the burst at once and, as soon as the account shows its lock (the burst is still running on
 * PostgreSQL), one request with the right credential. Returns the burst's answers and the right one's.
 */
async function burstThenRight(
  userId: string,
  wrong: (index: number) => Promise<LightMyRequestResponse>,
  right: () => Promise<LightMyRequestResponse>,
): Promise<{ burst: LightMyRequestResponse[]; right: LightMyRequestResponse }> {
  const burst = Promise.all(Array.from({ length: burstSize }, (_, index) => wrong(index)));
  const deadline = Date.now() + 30_000;
  while ((await lockedUntil(userId)) === null && Date.now() < deadline) await sleep(2);
  const rightResponse = await right();
  return { burst: await burst, right: rightResponse };
}

function assertEvaluatedExactlyThreshold(records: Awaited<ReturnType<typeof loginRecords>>, reason: string) {
  assert.equal(records.failed.length, threshold, `evaluated ${records.failed.length} guesses`);
  assert.ok(records.failed.every((row) => row.failure_reason === reason));
  assert.deepEqual(records.attemptNumbers, [1, 2, 3, 4, 5], 'each evaluated guess had its own attempt');
}

function bankingFields(customer: Awaited<ReturnType<typeof loginCustomer>>, pin: string) {
  return {
    name: customer.name,
    phone: customer.phone,
    account_number: customer.accountNumber,
    mother_name: customer.motherName,
    pin,
    device: { type: 'android', id: 'device-under-test', name: 'Test Phone' },
  };
}

describe('regression (issue 7.2): a concurrent burst evaluates at most the threshold', () => {
  test('40 concurrent wrong PINs evaluate at most the threshold; the right PIN once it is reached does not log in', async () => {
    const customer = await loginCustomer(harness.app);
    const { burst, right } = await burstThenRight(
      customer.userId,
      (index) => post('/v1/auth/banking/login', bankingFields(customer, String(200000 + index))),
      () => post('/v1/auth/banking/login', bankingFields(customer, testPin)),
    );
    assert.deepEqual(tally(burst), {
      INVALID_CREDENTIALS: threshold - 1,
      ACCOUNT_LOCKED: burstSize - threshold + 1,
    });
    assert.equal(right.statusCode, 423, right.body);
    const records = await loginRecords({ userId: customer.userId });
    assertEvaluatedExactlyThreshold(records, 'credentials_mismatch');
    assert.equal(records.blocked, burstSize - threshold + 1, 'every refused guess is recorded');
  });

  test('40 concurrent wrong OTPs at one login token compare at most OTP_ATTEMPTS_MAX codes', async () => {
    const customer = await loginCustomer(harness.app);
    const started = await post('/v1/auth/banking/login', bankingFields(customer, testPin));
    const { login_token } = started.json() as { login_token: string };
    const otp = await latestCode(harness.app, customer.phone);
    const wrong = (index: number) => String((Number(otp) + 1 + index) % 1_000_000).padStart(6, '0');
    const burst = await Promise.all(
      Array.from({ length: burstSize }, (_, index) =>
        post('/v1/auth/banking/verify', { login_token, otp: wrong(index) }),
      ),
    );
    const attemptsMax = harness.config.authentication.otpAttemptsMax;
    assert.deepEqual(tally(burst), {
      OTP_INVALID: attemptsMax,
      LOGIN_TOKEN_INVALID: burstSize - attemptsMax,
    });
    const records = await loginRecords({ userId: customer.userId });
    assert.equal(records.failed.filter((row) => row.failure_reason === 'otp_invalid').length, attemptsMax);
    const right = await post('/v1/auth/banking/verify', { login_token, otp });
    assert.equal(
      answerCode(right),
      'LOGIN_TOKEN_INVALID',
      'the spent token does not log in with the right code',
    );
  });

  test('40 concurrent wrong OTPs spread over several login tokens of one customer stop at the account threshold', async () => {
    const customer = await loginCustomer(harness.app);
    const tokens: { token: string; otp: string }[] = [];
    for (let index = 0; index < 3; index += 1) {
      const started = await post('/v1/auth/banking/login', bankingFields(customer, testPin));
      tokens.push({
        token: (started.json() as { login_token: string }).login_token,
        otp: await latestCode(harness.app, customer.phone),
      });
    }
    const burst = await Promise.all(
      Array.from({ length: burstSize }, (_, index) => {
        const target = tokens[index % tokens.length] as { token: string; otp: string };
        const wrong = String((Number(target.otp) + 1) % 1_000_000).padStart(6, '0');
        return post('/v1/auth/banking/verify', { login_token: target.token, otp: wrong });
      }),
    );
    const records = await loginRecords({ userId: customer.userId });
    assertEvaluatedExactlyThreshold(records, 'otp_invalid');
    assert.equal(tally(burst).OTP_INVALID, threshold - 1);
    assert.notEqual(await lockedUntil(customer.userId), null);
    const right = await post('/v1/auth/banking/login', bankingFields(customer, testPin));
    assert.equal(right.statusCode, 423);
  });

  test('40 concurrent wrong email passwords evaluate at most the threshold; the right one once it is reached does not log in', async () => {
    const { email, userId } = await registerEmailCustomer(harness.app, emailPassword);
    const { burst, right } = await burstThenRight(
      userId,
      (index) => post('/v1/auth/email/login', { email, password: `wrong guess number ${index}` }),
      () => post('/v1/auth/email/login', { email, password: emailPassword }),
    );
    assert.deepEqual(tally(burst), {
      INVALID_CREDENTIALS: threshold - 1,
      ACCOUNT_LOCKED: burstSize - threshold + 1,
    });
    assert.equal(right.statusCode, 423, right.body);
    assertEvaluatedExactlyThreshold(await loginRecords({ userId }), 'invalid_credentials');
  });

  test('40 concurrent wrong staff passwords evaluate at most the threshold; the right one once it is reached does not log in', async () => {
    const manager = await loginStaff(harness.app, 'manager');
    const { burst, right } = await burstThenRight(
      manager.userId,
      (index) =>
        post('/v1/admin/auth/login', { email: manager.email, password: `wrong-password-${index}-x` }),
      () =>
        post('/v1/admin/auth/login', {
          email: manager.email,
          password: testStaffPassword,
          totp: generateTotp({ secretBase32: manager.totpSecret }, Date.now() + 30_000),
        }),
    );
    assert.deepEqual(tally(burst), {
      INVALID_CREDENTIALS: threshold - 1,
      ACCOUNT_LOCKED: burstSize - threshold + 1,
    });
    assert.equal(right.statusCode, 423, right.body);
    const records = await loginRecords({ adminId: manager.userId });
    assertEvaluatedExactlyThreshold(records, 'invalid_credentials');
  });

  test('40 concurrent wrong TOTP codes after the right password evaluate at most the threshold', async () => {
    const admin = await loginStaff(harness.app, 'admin');
    const near = [-1, 0, 1, 2].map((step) =>
      generateTotp({ secretBase32: admin.totpSecret }, Date.now() + step * 30_000),
    );
    const wrongCodes = Array.from({ length: 100 }, (_, index) => String(index).padStart(6, '0')).filter(
      (candidate) => !near.includes(candidate),
    );
    const { burst, right } = await burstThenRight(
      admin.userId,
      (index) =>
        post('/v1/admin/auth/login', {
          email: admin.email,
          password: testStaffPassword,
          totp: wrongCodes[index] ?? '999999',
        }),
      () =>
        post('/v1/admin/auth/login', {
          email: admin.email,
          password: testStaffPassword,
          totp: generateTotp({ secretBase32: admin.totpSecret }, Date.now() + 30_000),
        }),
    );
    assert.deepEqual(tally(burst), { MFA_INVALID: threshold - 1, ACCOUNT_LOCKED: burstSize - threshold + 1 });
    assert.equal(right.statusCode, 423, right.body);
    const records = await loginRecords({ adminId: admin.userId });
    assertEvaluatedExactlyThreshold(records, 'mfa_invalid');
  });

  test('40 concurrent guesses for an unknown email evaluate at most the threshold, like a real account', async () => {
    const email = `nobody-${randomInt(1_000_000_000)}@example.com`;
    const burst = await Promise.all(
      Array.from({ length: burstSize }, (_, index) =>
        post('/v1/auth/email/login', { email, password: `wrong guess number ${index}` }),
      ),
    );
    assert.deepEqual(tally(burst), {
      INVALID_CREDENTIALS: threshold - 1,
      ACCOUNT_LOCKED: burstSize - threshold + 1,
    });
    const records = await loginRecords({ identifier: unknownIdentifier(harness.config, email) });
    assert.equal(records.failed.length, threshold);
  });

  test('40 concurrent failures from one client address evaluate at most LOGIN_IP_FAILURES_MAX, with Retry-After', async () => {
    const strict = await createHarness({ LOGIN_IP_FAILURES_MAX: String(threshold) });
    try {
      const strictTenant = await ensureTenant(strict.app);
      const burst = await Promise.all(
        Array.from({ length: burstSize }, (_, index) =>
          strict.app.inject({
            method: 'POST',
            url: '/v1/auth/email/login',
            payload: { email: `spray-${index}@example.com`, password: 'wrong passphrase here' },
          }),
        ),
      );
      assert.deepEqual(tally(burst), {
        INVALID_CREDENTIALS: threshold,
        TOO_MANY_ATTEMPTS: burstSize - threshold,
      });
      const limited = burst.find((response) => response.statusCode === 429);
      const retryAfter = Number(limited?.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 15 * 60, `Retry-After ${retryAfter}`);
      const failed = await withScope(strict.database.db, { tenantId: strictTenant }, (transaction) =>
        transaction.selectFrom('login_audits').select('id').where('status', '=', 'failed').execute(),
      );
      assert.equal(failed.length, threshold);
    } finally {
      await strict.close();
    }
  });
});

secretsNeverLeakTest(() => harness);
