import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { reencryptMfaSecrets } from '../../src/modules/mfa/mfa.service.ts';
import { generateTotp } from '../../src/modules/mfa/totp.ts';
import {
  bearer,
  ensureTenant,
  type LoggedInStaff,
  loginCustomer,
  loginStaff,
  testStaffPassword,
} from '../helpers/auth.ts';
import { createHarness, type Harness, secretsNeverLeakTest } from './harness.ts';

let harness: Harness;
let tenantId: string;

before(async () => {
  harness = await createHarness();
  tenantId = await ensureTenant(harness.app);
});

after(async () => {
  await harness.close();
});

function code(response: { json(): unknown }): string {
  return (response.json() as { error: { code: string } }).error.code;
}

async function staffLogin(payload: Record<string, unknown>) {
  return harness.app.inject({ method: 'POST', url: '/v1/admin/auth/login', payload });
}

/** A code of the next time step: the current one was spent by the helper's login. */
function nextCode(secret: string, stepsAhead = 1): string {
  return generateTotp({ secretBase32: secret }, Date.now() + stepsAhead * 30_000);
}

async function userRow(userId: string) {
  return withScope(harness.database.db, { tenantId }, (transaction) =>
    transaction.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow(),
  );
}

describe('staff login with TOTP', () => {
  test("password and a current TOTP code log a staff member in with the role's permissions", async () => {
    const admin = await loginStaff(harness.app, 'admin');
    const me = await harness.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(admin) });
    assert.equal(me.statusCode, 200);
    const body = me.json() as { role: string; permissions: string[] };
    assert.equal(body.role, 'admin');
    assert.ok(body.permissions.includes('users:manage'));
    assert.ok(!body.permissions.includes('staff:manage'));
    const audit = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction.selectFrom('login_audits').selectAll().where('admin_id', '=', admin.userId).execute(),
    );
    assert.deepEqual(
      audit.map((row) => [row.login_type, row.status]),
      [['admin_login', 'success']],
    );
  });

  test('without the second factor the answer is MFA_REQUIRED; a wrong code is MFA_INVALID and counts as a failure', async () => {
    const admin = await loginStaff(harness.app, 'manager');
    const missing = await staffLogin({ email: admin.email, password: testStaffPassword });
    assert.equal(missing.statusCode, 401);
    assert.equal(code(missing), 'MFA_REQUIRED');
    const right = nextCode(admin.totpSecret);
    const wrong = `${(Number(right[0]) + 5) % 10}${right.slice(1)}`;
    const invalid = await staffLogin({ email: admin.email, password: testStaffPassword, totp: wrong });
    assert.equal(code(invalid), 'MFA_INVALID');
    assert.equal((await userRow(admin.userId)).failed_login_attempts, 1);
  });

  test('each TOTP code is accepted once (replay of the same code is refused)', async () => {
    const officer = await loginStaff(harness.app, 'officer');
    const fresh = nextCode(officer.totpSecret);
    const first = await staffLogin({ email: officer.email, password: testStaffPassword, totp: fresh });
    assert.equal(first.statusCode, 200, first.body);
    const replay = await staffLogin({ email: officer.email, password: testStaffPassword, totp: fresh });
    assert.equal(replay.statusCode, 401);
    assert.equal(code(replay), 'MFA_INVALID');
  });

  test('the TOTP secret is stored encrypted, never in plain text', async () => {
    const admin = await loginStaff(harness.app, 'admin');
    const row = await userRow(admin.userId);
    assert.ok(row.mfa_secret_ciphertext?.startsWith('v1.'));
    assert.ok(!row.mfa_secret_ciphertext?.includes(admin.totpSecret));
    assert.equal(row.mfa_secret_key_id, harness.config.authentication.mfaEncryptionKeys[0]?.id);
  });

  test('password guessing locks a staff account; the right password and code are then refused', async () => {
    const manager = await loginStaff(harness.app, 'manager');
    const codes: string[] = [];
    for (let attempt = 0; attempt < 5; attempt += 1) {
      codes.push(code(await staffLogin({ email: manager.email, password: `wrong-password-${attempt}-xyz` })));
    }
    assert.deepEqual(codes.slice(-2), ['INVALID_CREDENTIALS', 'ACCOUNT_LOCKED']);
    const locked = await staffLogin({
      email: manager.email,
      password: testStaffPassword,
      totp: nextCode(manager.totpSecret),
    });
    assert.equal(locked.statusCode, 423);
  });

  test('an unknown email answers exactly like a wrong password, in about the same time, lockout included', async () => {
    const admin = await loginStaff(harness.app, 'admin');
    const timed = async (email: string) => {
      const started = performance.now();
      const response = await staffLogin({ email, password: 'not-the-password-at-all' });
      return { response, elapsedMs: performance.now() - started };
    };
    await timed('warm-up@staff.test');
    const known: number[] = [];
    const unknown: number[] = [];
    for (let round = 0; round < 6; round += 1) {
      const a = await timed(admin.email);
      const b = await timed('nobody@staff.test');
      assert.equal(a.response.statusCode, b.response.statusCode);
      assert.equal(code(a.response), code(b.response));
      known.push(a.elapsedMs);
      unknown.push(b.elapsedMs);
      if (round >= 4)
        assert.equal(code(b.response), 'ACCOUNT_LOCKED', 'the unknown email locks like a real account');
    }
    const median = (values: number[]) => values.sort((x, y) => x - y)[2] ?? 0;
    const ratio = median(unknown) / median(known);
    // Without the dummy hash the ratio would be near 0.01 (a missing row against a 50 ms argon2 verify);
    // the wide band only absorbs the noise of suites running in parallel on two cores.
    assert.ok(ratio > 0.33 && ratio < 3, `unknown/known time ratio ${ratio.toFixed(2)}`);
  });

  test('an expired staff password is refused with PASSWORD_EXPIRED', async () => {
    const officer = await loginStaff(harness.app, 'officer');
    await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .updateTable('users')
        .set({ password_expires_at: new Date(Date.now() - 1000) })
        .where('id', '=', officer.userId)
        .execute(),
    );
    const response = await staffLogin({
      email: officer.email,
      password: testStaffPassword,
      totp: nextCode(officer.totpSecret),
    });
    assert.equal(response.statusCode, 403);
    assert.equal(code(response), 'PASSWORD_EXPIRED');
  });
});

describe('MFA enrolment is mandatory for staff', () => {
  test('a staff session without MFA can only enrol; enrol → QR + otpauth URI → confirm → backup codes → full access', async () => {
    const admin = await loginStaff(harness.app, 'admin', { withoutMfa: true });
    assert.equal(
      (await harness.app.inject({ method: 'GET', url: '/v1/admin/users', headers: bearer(admin) }))
        .statusCode,
      403,
    );
    assert.equal(
      (await harness.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(admin) })).statusCode,
      403,
    );
    const enrol = await harness.app.inject({
      method: 'POST',
      url: '/v1/me/mfa/totp/enroll',
      headers: bearer(admin),
    });
    assert.equal(enrol.statusCode, 200, enrol.body);
    const enrolment = enrol.json() as { secret: string; otpauth_uri: string; qr_code: string };
    assert.match(enrolment.otpauth_uri, /^otpauth:\/\/totp\/Corebank:/);
    assert.equal(new URL(enrolment.otpauth_uri).searchParams.get('secret'), enrolment.secret);
    assert.match(enrolment.qr_code, /^data:image\/png;base64,/);
    const wrong = await harness.app.inject({
      method: 'POST',
      url: '/v1/me/mfa/totp/confirm',
      headers: bearer(admin),
      payload: {
        code: '000000' === generateTotp({ secretBase32: enrolment.secret }, Date.now()) ? '111111' : '000000',
      },
    });
    assert.equal(code(wrong), 'MFA_INVALID');
    const confirm = await harness.app.inject({
      method: 'POST',
      url: '/v1/me/mfa/totp/confirm',
      headers: bearer(admin),
      payload: { code: generateTotp({ secretBase32: enrolment.secret }, Date.now()) },
    });
    assert.equal(confirm.statusCode, 200, confirm.body);
    const { backup_codes } = confirm.json() as { backup_codes: string[] };
    assert.equal(backup_codes.length, 10);
    assert.equal(new Set(backup_codes).size, 10);
    assert.equal(
      (await harness.app.inject({ method: 'GET', url: '/v1/admin/users', headers: bearer(admin) }))
        .statusCode,
      200,
    );
    const stored = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('mfa_backup_codes')
        .select('code_hash')
        .where('user_id', '=', admin.userId)
        .execute(),
    );
    assert.equal(stored.length, 10);
    assert.ok(
      stored.every(
        (row) => !backup_codes.some((backup) => row.code_hash.includes(backup.replaceAll('-', ''))),
      ),
    );
  });
});

describe('backup codes and trusted devices', () => {
  async function enrolledCustomerWithEmail() {
    // Staff are the accounts with email + password + TOTP here; a manager stands in.
    return loginStaff(harness.app, 'manager');
  }

  async function backupCodesFor(staff: LoggedInStaff): Promise<string[]> {
    const response = await harness.app.inject({
      method: 'POST',
      url: '/v1/me/mfa/backup-codes',
      headers: bearer(staff),
      payload: { password: testStaffPassword, totp: nextCode(staff.totpSecret) },
    });
    assert.equal(response.statusCode, 200, response.body);
    return (response.json() as { backup_codes: string[] }).backup_codes;
  }

  test('a backup code works once; regenerating (after re-authentication) kills the old ones', async () => {
    const staff = await enrolledCustomerWithEmail();
    const first = await backupCodesFor(staff);
    const [one, two, three] = first;
    assert.ok(one && two && three);
    const login = await staffLogin({ email: staff.email, password: testStaffPassword, backup_code: one });
    assert.equal(login.statusCode, 200, login.body);
    const again = await staffLogin({ email: staff.email, password: testStaffPassword, backup_code: one });
    assert.equal(code(again), 'MFA_INVALID');
    const badReauth = await harness.app.inject({
      method: 'POST',
      url: '/v1/me/mfa/backup-codes',
      headers: bearer(staff),
      payload: { password: 'not-the-password-xyz', backup_code: three },
    });
    assert.equal(code(badReauth), 'INVALID_CREDENTIALS');
    const renewed = await harness.app.inject({
      method: 'POST',
      url: '/v1/me/mfa/backup-codes',
      headers: bearer(staff),
      // The TOTP step after the current one is spent; a backup code is the other accepted second factor.
      payload: { password: testStaffPassword, backup_code: three },
    });
    assert.equal(renewed.statusCode, 200, renewed.body);
    const old = await staffLogin({ email: staff.email, password: testStaffPassword, backup_code: two });
    assert.equal(code(old), 'MFA_INVALID');
  });

  test('"remember this device" skips the second factor until the device is forgotten; a forged token does not', async () => {
    const staff = await enrolledCustomerWithEmail();
    const remembered = await staffLogin({
      email: staff.email,
      password: testStaffPassword,
      totp: nextCode(staff.totpSecret),
      remember_device: true,
      device: { type: 'web', name: 'Test Browser' },
    });
    assert.equal(remembered.statusCode, 200, remembered.body);
    const { trusted_device_token, access_token } = remembered.json() as {
      trusted_device_token: string;
      access_token: string;
    };
    assert.match(trusted_device_token, /^td_/);
    const skip = await staffLogin({ email: staff.email, password: testStaffPassword, trusted_device_token });
    assert.equal(skip.statusCode, 200, skip.body);
    const forged = await staffLogin({
      email: staff.email,
      password: testStaffPassword,
      trusted_device_token: 'td_forged-device-token-value',
    });
    assert.equal(code(forged), 'MFA_REQUIRED');
    const list = await harness.app.inject({
      method: 'GET',
      url: '/v1/me/trusted-devices',
      headers: { authorization: `Bearer ${access_token}` },
    });
    const devices = (list.json() as { devices: { id: string; device_name: string; trust_score: number }[] })
      .devices;
    assert.equal(devices.length, 1);
    assert.equal(devices[0]?.device_name, 'Test Browser');
    assert.ok((devices[0]?.trust_score ?? 0) > 50, 'each trusted use raises the score');
    const forget = await harness.app.inject({
      method: 'DELETE',
      url: `/v1/me/trusted-devices/${devices[0]?.id}`,
      headers: { authorization: `Bearer ${access_token}` },
    });
    assert.equal(forget.statusCode, 204);
    const after = await staffLogin({ email: staff.email, password: testStaffPassword, trusted_device_token });
    assert.equal(code(after), 'MFA_REQUIRED');
  });

  test('staff cannot disable MFA; a customer can, only after re-authentication', async () => {
    const staff = await loginStaff(harness.app, 'super_admin');
    const refused = await harness.app.inject({
      method: 'POST',
      url: '/v1/me/mfa/totp/disable',
      headers: bearer(staff),
      payload: { password: testStaffPassword, totp: nextCode(staff.totpSecret) },
    });
    assert.equal(refused.statusCode, 403);
    const customer = await loginCustomer(harness.app);
    const enrol = await harness.app.inject({
      method: 'POST',
      url: '/v1/me/mfa/totp/enroll',
      headers: bearer(customer),
    });
    const { secret } = enrol.json() as { secret: string };
    await harness.app.inject({
      method: 'POST',
      url: '/v1/me/mfa/totp/confirm',
      headers: bearer(customer),
      payload: { code: generateTotp({ secretBase32: secret }, Date.now()) },
    });
    assert.equal((await userRow(customer.userId)).mfa_enabled, true);
    // A PIN customer has no password, so no re-authentication can pass.
    const disable = await harness.app.inject({
      method: 'POST',
      url: '/v1/me/mfa/totp/disable',
      headers: bearer(customer),
      payload: {
        password: 'any-password-at-all',
        totp: generateTotp({ secretBase32: secret }, Date.now() + 30_000),
      },
    });
    assert.equal(code(disable), 'INVALID_CREDENTIALS');
    assert.equal((await userRow(customer.userId)).mfa_enabled, true);
  });
});

describe('MFA encryption key rotation', () => {
  test('secrets move to the new key; the old key only decrypts; codes keep working', async () => {
    const staff = await loginStaff(harness.app, 'admin');
    const previousKey = harness.config.authentication.mfaEncryptionKeys[0];
    assert.ok(previousKey);
    const rotatedConfig = loadConfig({
      NODE_ENV: 'test',
      MFA_ENCRYPTION_KEY: 'ab'.repeat(32),
      MFA_ENCRYPTION_KEY_ID: 'm2',
      MFA_PREVIOUS_ENCRYPTION_KEYS: `${previousKey.id}:${previousKey.key.toString('hex')}`,
    });
    const moved = await reencryptMfaSecrets(harness.database.db, rotatedConfig);
    assert.ok(moved >= 1);
    assert.equal((await userRow(staff.userId)).mfa_secret_key_id, 'm2');
    assert.equal(
      await reencryptMfaSecrets(harness.database.db, rotatedConfig),
      0,
      'nothing is left under the old key',
    );
    const rotated = await buildApp({ config: rotatedConfig, database: harness.database, logger: false });
    try {
      await rotated.ready();
      const login = await rotated.inject({
        method: 'POST',
        url: '/v1/admin/auth/login',
        payload: { email: staff.email, password: testStaffPassword, totp: nextCode(staff.totpSecret) },
      });
      assert.equal(login.statusCode, 200, login.body);
    } finally {
      await rotated.close();
    }
  });
});

describe('legacy bcrypt hashes (seed 002)', () => {
  test('a bcrypt password verifies and is replaced by argon2id at that login', async () => {
    const email = `legacy-${Date.now()}@example.com`;
    const password = 'legacy bcrypt passphrase';
    harness.secrets.add(password);
    const legacyHash = await bcrypt.hash(password, 4);
    const userId = await withScope(harness.database.db, { tenantId }, async (transaction) => {
      const row = await transaction
        .insertInto('users')
        .values({
          tenant_id: tenantId,
          role: 'customer',
          email,
          name: 'Legacy User',
          password_hash: legacyHash,
          email_verified_at: new Date(),
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    });
    const login = await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/email/login',
      payload: { email, password },
    });
    assert.equal(login.statusCode, 200, login.body);
    assert.match((await userRow(userId)).password_hash ?? '', /^\$argon2id\$/);
    const again = await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/email/login',
      payload: { email, password },
    });
    assert.equal(again.statusCode, 200);
    const wrong = await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/email/login',
      payload: { email, password: 'wrong passphrase!!' },
    });
    assert.equal(code(wrong), 'INVALID_CREDENTIALS');
  });
});

secretsNeverLeakTest(() => harness);
