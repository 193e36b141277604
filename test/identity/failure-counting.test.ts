import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { generateTotp } from '../../src/modules/mfa/totp.ts';
import {
  bearer,
  ensureTenant,
  latestCode,
  loginCustomer,
  loginStaff,
  registerEmailCustomer,
  testPin,
  testStaffPassword,
} from '../helpers/auth.ts';
import { whileInsertsFail } from './failure-injection.ts';
import { createHarness, type Harness, secretsNeverLeakTest } from './harness.ts';

/*
 * Issue 7.1: a failed credential must count even when a later step of the same request fails. The
 * reported defect was a device name PostgreSQL refused: the failure counter and the login audit were
 * written in the transaction that then blew up, the rollback erased the count, and the answer (500 for
 * a wrong PIN, 200 for the right one) became an oracle that never locked. Here the later step is made
 * to fail on purpose (inserts into login_audits raise), for every credential the service checks; the
 * guesses must still count and the account must lock.
 */

let harness: Harness;
let tenantId: string;
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

function code(response: { json(): unknown }): string {
  return (response.json() as { error: { code: string } }).error.code;
}

/** A six-digit code that is not the TOTP of the previous, current or next time step. */
function wrongTotp(secret: string): string {
  const near = [-1, 0, 1].map((step) => generateTotp({ secretBase32: secret }, Date.now() + step * 30_000));
  let candidate = 0;
  while (near.includes(String(candidate).padStart(6, '0'))) candidate += 1;
  return String(candidate).padStart(6, '0');
}

async function userRow(userId: string) {
  return withScope(harness.database.db, { tenantId }, (transaction) =>
    transaction
      .selectFrom('users')
      .select(['failed_login_attempts', 'locked_until', 'lockout_count'])
      .where('id', '=', userId)
      .executeTakeFirstOrThrow(),
  );
}

function post(url: string, payload: Record<string, unknown>, headers: Record<string, string> = {}) {
  return harness.app.inject({ method: 'POST', url, payload, headers });
}

/** `count` guesses while the login record cannot be written: none of them may succeed or go uncounted. */
async function guessWhileAuditFails(count: number, guess: () => Promise<{ statusCode: number }>) {
  const statuses = await whileInsertsFail(harness.database, 'login_audits', async () => {
    const seen: number[] = [];
    for (let attempt = 0; attempt < count; attempt += 1) seen.push((await guess()).statusCode);
    return seen;
  });
  assert.ok(
    statuses.every((status) => status >= 400),
    `a guess succeeded: ${statuses.join(',')}`,
  );
}

async function assertLocked(userId: string): Promise<void> {
  const row = await userRow(userId);
  assert.ok(
    row.locked_until !== null && row.locked_until.getTime() > Date.now(),
    `not locked after ${threshold} counted failures (failed_login_attempts ${row.failed_login_attempts})`,
  );
  assert.equal(row.lockout_count, 1);
}

describe('regression (issue 7.1): every authentication failure counts even when a later step fails', () => {
  test('banking PIN: wrong PINs count though their login record fails; the right PIN is then refused as locked', async () => {
    const customer = await loginCustomer(harness.app);
    const fields = (pin: string) => ({
      name: customer.name,
      phone: customer.phone,
      account_number: customer.accountNumber,
      mother_name: customer.motherName,
      pin,
      device: { type: 'android', id: 'device-under-test', name: 'Test Phone' },
    });
    await guessWhileAuditFails(threshold, () =>
      post('/v1/auth/banking/login', fields(String(100000 + randomInt(899_999)))),
    );
    await assertLocked(customer.userId);
    const right = await post('/v1/auth/banking/login', fields(testPin));
    assert.equal(right.statusCode, 423, right.body);
    assert.equal(code(right), 'ACCOUNT_LOCKED');
  });

  test('banking OTP: wrong codes spend the login token though their login record fails', async () => {
    const customer = await loginCustomer(harness.app);
    const started = await post('/v1/auth/banking/login', {
      name: customer.name,
      phone: customer.phone,
      account_number: customer.accountNumber,
      mother_name: customer.motherName,
      pin: testPin,
      device: { type: 'android', id: 'device-under-test', name: 'Test Phone' },
    });
    assert.equal(started.statusCode, 200, started.body);
    const { login_token } = started.json() as { login_token: string };
    const otp = await latestCode(harness.app, customer.phone);
    const wrong = String((Number(otp) + 1) % 1_000_000).padStart(6, '0');
    const attemptsMax = harness.config.authentication.otpAttemptsMax;
    await guessWhileAuditFails(attemptsMax, () =>
      post('/v1/auth/banking/verify', { login_token, otp: wrong }),
    );
    const row = await userRow(customer.userId);
    assert.equal(row.failed_login_attempts, attemptsMax, 'the wrong codes counted against the account');
    const right = await post('/v1/auth/banking/verify', { login_token, otp });
    assert.equal(right.statusCode, 401, right.body);
    assert.equal(code(right), 'LOGIN_TOKEN_INVALID');
  });

  test('email and password: wrong passwords count though their login record fails', async () => {
    const { email, userId } = await registerEmailCustomer(harness.app, emailPassword);
    await guessWhileAuditFails(threshold, () =>
      post('/v1/auth/email/login', { email, password: `wrong guess ${randomInt(1_000_000)} abc` }),
    );
    await assertLocked(userId);
    const right = await post('/v1/auth/email/login', { email, password: emailPassword });
    assert.equal(right.statusCode, 423, right.body);
  });

  test('unknown email: failures count though their login record fails, and it locks like a real account', async () => {
    const email = `nobody-${randomInt(1_000_000_000)}@example.com`;
    await guessWhileAuditFails(threshold, () =>
      post('/v1/auth/email/login', { email, password: 'wrong guess for nobody' }),
    );
    const next = await post('/v1/auth/email/login', { email, password: 'wrong guess for nobody' });
    assert.equal(code(next), 'ACCOUNT_LOCKED');
  });

  test('staff password: wrong passwords count though their login record fails', async () => {
    const manager = await loginStaff(harness.app, 'manager');
    await guessWhileAuditFails(threshold, () =>
      post('/v1/admin/auth/login', { email: manager.email, password: `wrong-${randomInt(1_000_000)}-pw` }),
    );
    await assertLocked(manager.userId);
    const right = await post('/v1/admin/auth/login', {
      email: manager.email,
      password: testStaffPassword,
      totp: generateTotp({ secretBase32: manager.totpSecret }, Date.now() + 30_000),
    });
    assert.equal(right.statusCode, 423, right.body);
  });

  test('staff TOTP and backup codes: wrong second factors count though their login record fails', async () => {
    for (const factor of ['totp', 'backup_code'] as const) {
      const admin = await loginStaff(harness.app, 'admin');
      const wrongFactor =
        factor === 'totp' ? { totp: wrongTotp(admin.totpSecret) } : { backup_code: 'ZZZZ-ZZZZ-ZZ' };
      await guessWhileAuditFails(threshold, () =>
        post('/v1/admin/auth/login', { email: admin.email, password: testStaffPassword, ...wrongFactor }),
      );
      await assertLocked(admin.userId);
    }
  });

  test('change password: wrong current passwords count though their login record fails', async () => {
    const { email, userId } = await registerEmailCustomer(harness.app, emailPassword);
    const session = (await post('/v1/auth/email/login', { email, password: emailPassword })).json() as {
      access_token: string;
    };
    await guessWhileAuditFails(threshold, () =>
      post(
        '/v1/me/password',
        { current_password: `wrong current ${randomInt(1_000_000)}`, new_password: 'a brand new passphrase' },
        bearer({ accessToken: session.access_token }),
      ),
    );
    await assertLocked(userId);
  });

  test('the per-address limit counts failures though their login record fails', async () => {
    const strict = await createHarness({ LOGIN_IP_FAILURES_MAX: '3' });
    try {
      await ensureTenant(strict.app);
      await whileInsertsFail(strict.database, 'login_audits', async () => {
        for (let attempt = 0; attempt < 3; attempt += 1) {
          await strict.app.inject({
            method: 'POST',
            url: '/v1/auth/email/login',
            payload: { email: `spray-${attempt}@example.com`, password: 'wrong passphrase here' },
          });
        }
      });
      const blocked = await strict.app.inject({
        method: 'POST',
        url: '/v1/auth/email/login',
        payload: { email: 'spray-next@example.com', password: 'wrong passphrase here' },
      });
      assert.equal(blocked.statusCode, 429, blocked.body);
      assert.equal(code(blocked), 'TOO_MANY_ATTEMPTS');
    } finally {
      await strict.close();
    }
  });
});

secretsNeverLeakTest(() => harness);
