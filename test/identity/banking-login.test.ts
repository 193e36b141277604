import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { withScope } from '../../src/db/tenant-transaction.ts';
import {
  bearer,
  ensureTenant,
  latestCode,
  loginCustomer,
  randomAccountNumber,
  randomPhone,
  testMotherName,
  testPin,
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

interface LoginFields {
  name: string;
  phone: string;
  account_number: string;
  mother_name: string;
  pin: string;
  device: { type: string; id: string; name: string };
}

function fields(overrides: Partial<LoginFields> = {}): LoginFields {
  return {
    name: 'Customer Under Test',
    phone: randomPhone(),
    account_number: randomAccountNumber(),
    mother_name: testMotherName,
    pin: testPin,
    device: { type: 'ios', id: 'device-under-test', name: 'Test iPhone' },
    ...overrides,
  };
}

async function startLogin(payload: LoginFields) {
  return harness.app.inject({ method: 'POST', url: '/v1/auth/banking/login', payload });
}

async function verify(loginToken: string, otp: string) {
  return harness.app.inject({
    method: 'POST',
    url: '/v1/auth/banking/verify',
    payload: { login_token: loginToken, otp },
  });
}

function wrongOtp(otp: string): string {
  return String((Number(otp) + 1) % 1_000_000).padStart(6, '0');
}

function errorCode(response: { json(): unknown }): string {
  return (response.json() as { error: { code: string } }).error.code;
}

async function usersRow(userId: string) {
  return withScope(harness.database.db, { tenantId }, (transaction) =>
    transaction.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow(),
  );
}

describe('banking login: registration of an unknown phone', () => {
  test('login → OTP by SMS → verify registers the customer with primary bank account and IDR wallet', async () => {
    const payload = fields();
    const login = await startLogin(payload);
    assert.equal(login.statusCode, 200, login.body);
    const { login_token, expires_in } = login.json() as { login_token: string; expires_in: number };
    assert.equal(expires_in, 300);
    const otp = await latestCode(harness.app, payload.phone);
    const verified = await verify(login_token, otp);
    assert.equal(verified.statusCode, 200, verified.body);
    const body = verified.json() as {
      access_token: string;
      refresh_token: string;
      user: { id: string; role: string; phone: string };
    };
    assert.equal(body.user.role, 'customer');
    assert.equal(body.user.phone, payload.phone);
    const money = await withScope(harness.database.db, { tenantId }, async (transaction) => ({
      accounts: await transaction
        .selectFrom('bank_accounts')
        .selectAll()
        .where('user_id', '=', body.user.id)
        .execute(),
      wallets: await transaction
        .selectFrom('wallets')
        .selectAll()
        .where('user_id', '=', body.user.id)
        .execute(),
    }));
    assert.equal(money.accounts.length, 1);
    assert.equal(money.accounts[0]?.account_number, payload.account_number);
    assert.equal(money.accounts[0]?.is_primary, true);
    assert.equal(money.wallets.length, 1);
    assert.equal(money.wallets[0]?.asset_code, 'IDR');
    assert.equal(money.wallets[0]?.account_number, payload.account_number);
    const me = await harness.app.inject({
      method: 'GET',
      url: '/v1/me',
      headers: { authorization: `Bearer ${body.access_token}` },
    });
    assert.equal(me.statusCode, 200);
    assert.equal((me.json() as { id: string }).id, body.user.id);
  });

  test('OTPs and login tokens are stored only as keyed hashes; the PIN only as a peppered HMAC', async () => {
    const payload = fields();
    const login = await startLogin(payload);
    const { login_token } = login.json() as { login_token: string };
    const otp = await latestCode(harness.app, payload.phone);
    const row = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('otp_sessions')
        .selectAll()
        .where('phone', '=', payload.phone)
        .executeTakeFirstOrThrow(),
    );
    assert.match(row.otp_hash, /^[0-9a-f]{64}$/);
    assert.ok(!row.otp_hash.includes(otp));
    assert.notEqual(row.login_token_hash, login_token);
    assert.ok(!JSON.stringify(row).includes(login_token));
    assert.match(row.pin_hash, /^pinhmac\$/);
    assert.ok(!row.pin_hash.includes(testPin));
  });

  test('bad input is 400: short name, 5-digit PIN, 7-digit account number, unknown field, bad device type', async () => {
    const cases: Record<string, unknown>[] = [
      { ...fields(), name: 'Short' },
      { ...fields(), pin: '12345' },
      { ...fields(), pin: '12345a' },
      { ...fields(), account_number: '1234567' },
      { ...fields(), mother_name: 'Mom' },
      { ...fields(), role: 'admin' },
      { ...fields(), device: { type: 'toaster', id: 'x', name: 'y' } },
    ];
    for (const payload of cases) {
      const response = await harness.app.inject({ method: 'POST', url: '/v1/auth/banking/login', payload });
      assert.equal(response.statusCode, 400, JSON.stringify(payload));
      assert.equal(errorCode(response), 'VALIDATION_FAILED');
    }
  });

  test('an account number already used by another customer cannot register a new phone', async () => {
    const existing = await loginCustomer(harness.app);
    const response = await startLogin(fields({ account_number: existing.accountNumber }));
    assert.equal(response.statusCode, 401);
    assert.equal(errorCode(response), 'INVALID_CREDENTIALS');
  });
});

describe('banking login: a known phone', () => {
  test('must match name, account number, mother name and PIN; names ignore case and spacing', async () => {
    const customer = await loginCustomer(harness.app);
    const base = fields({
      phone: customer.phone,
      account_number: customer.accountNumber,
      name: customer.name,
    });
    const mismatches: Partial<LoginFields>[] = [
      { name: 'Somebody Else Entirely' },
      { account_number: randomAccountNumber() },
      { mother_name: 'Another Mother Name' },
      { pin: '654321' },
    ];
    for (const mismatch of mismatches) {
      const response = await startLogin({ ...base, ...mismatch });
      assert.equal(response.statusCode, 401, JSON.stringify(mismatch));
      assert.equal(errorCode(response), 'INVALID_CREDENTIALS');
    }
    const loose = await startLogin({
      ...base,
      name: `  ${customer.name.toUpperCase()} `,
      mother_name: testMotherName.toLowerCase(),
    });
    assert.equal(loose.statusCode, 200, loose.body);
    // The success reset the counter the four mismatches had raised.
    assert.equal((await usersRow(customer.userId)).failed_login_attempts, 4);
    const { login_token } = loose.json() as { login_token: string };
    const verified = await verify(login_token, await latestCode(harness.app, customer.phone));
    assert.equal(verified.statusCode, 200);
    assert.equal((verified.json() as { user: { id: string } }).user.id, customer.userId);
    assert.equal((await usersRow(customer.userId)).failed_login_attempts, 0);
  });

  test('every attempt writes login_audits and an AUTHENTICATION audit row', async () => {
    const customer = await loginCustomer(harness.app);
    await startLogin(
      fields({
        phone: customer.phone,
        account_number: customer.accountNumber,
        name: customer.name,
        pin: '000000',
      }),
    );
    const rows = await withScope(harness.database.db, { tenantId }, async (transaction) => ({
      logins: await transaction
        .selectFrom('login_audits')
        .selectAll()
        .where('user_id', '=', customer.userId)
        .execute(),
      audits: await transaction
        .selectFrom('audit_logs')
        .selectAll()
        .where('entity_id', '=', customer.userId)
        .where('event_type', '=', 'AUTHENTICATION')
        .execute(),
    }));
    assert.deepEqual(rows.logins.map((row) => row.status).sort(), ['failed', 'success']);
    const failed = rows.logins.find((row) => row.status === 'failed');
    assert.equal(failed?.login_type, 'user_login');
    assert.equal(failed?.failure_reason, 'credentials_mismatch');
    assert.equal(failed?.ip_address, '127.0.0.1');
    assert.deepEqual(rows.audits.map((row) => row.event_status).sort(), ['FAILED', 'SUCCESS']);
  });
});

describe('banking login: attacks', () => {
  test('a login token is single-use', async () => {
    const payload = fields();
    const { login_token } = (await startLogin(payload)).json() as { login_token: string };
    const otp = await latestCode(harness.app, payload.phone);
    assert.equal((await verify(login_token, otp)).statusCode, 200);
    const again = await verify(login_token, otp);
    assert.equal(again.statusCode, 401);
    assert.equal(errorCode(again), 'LOGIN_TOKEN_INVALID');
  });

  test('two concurrent verifications of one login token: exactly one session opens', async () => {
    const payload = fields();
    const { login_token } = (await startLogin(payload)).json() as { login_token: string };
    const otp = await latestCode(harness.app, payload.phone);
    const results = await Promise.all([
      verify(login_token, otp),
      verify(login_token, otp),
      verify(login_token, otp),
    ]);
    assert.deepEqual(results.map((response) => response.statusCode).sort(), [200, 401, 401]);
    const users = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction.selectFrom('users').select('id').where('phone', '=', payload.phone).execute(),
    );
    assert.equal(users.length, 1);
  });

  test('a login token expires', async () => {
    const payload = fields();
    const { login_token } = (await startLogin(payload)).json() as { login_token: string };
    const otp = await latestCode(harness.app, payload.phone);
    await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .updateTable('otp_sessions')
        .set({ expires_at: new Date(Date.now() - 1000) })
        .where('phone', '=', payload.phone)
        .execute(),
    );
    const response = await verify(login_token, otp);
    assert.equal(response.statusCode, 401);
    assert.equal(errorCode(response), 'LOGIN_TOKEN_INVALID');
  });

  test('OTP guessing stops at 3 tries: the token dies and even the right code is refused', async () => {
    const payload = fields();
    const { login_token } = (await startLogin(payload)).json() as { login_token: string };
    const otp = await latestCode(harness.app, payload.phone);
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const response = await verify(login_token, wrongOtp(otp));
      assert.equal(response.statusCode, 401);
      assert.equal(errorCode(response), 'OTP_INVALID');
    }
    const right = await verify(login_token, otp);
    assert.equal(right.statusCode, 401);
    assert.equal(errorCode(right), 'LOGIN_TOKEN_INVALID');
  });

  test('PIN guessing locks the account (progressively), writes a security event, and the right PIN is then refused', async () => {
    const customer = await loginCustomer(harness.app);
    const base = fields({
      phone: customer.phone,
      account_number: customer.accountNumber,
      name: customer.name,
    });
    const codes: string[] = [];
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      codes.push(errorCode(await startLogin({ ...base, pin: String(100000 + attempt) })));
    }
    assert.deepEqual(codes, [
      'INVALID_CREDENTIALS',
      'INVALID_CREDENTIALS',
      'INVALID_CREDENTIALS',
      'INVALID_CREDENTIALS',
      'ACCOUNT_LOCKED',
    ]);
    const locked = await startLogin(base);
    assert.equal(locked.statusCode, 423);
    assert.equal(errorCode(locked), 'ACCOUNT_LOCKED');
    const user = await usersRow(customer.userId);
    assert.equal(user.lockout_count, 1);
    const minutes = ((user.locked_until?.getTime() ?? 0) - Date.now()) / 60_000;
    assert.ok(minutes > 14 && minutes <= 15, `locked for ${minutes} minutes`);
    const events = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('security_events')
        .selectAll()
        .where('user_id', '=', customer.userId)
        .where('event_type', '=', 'ACCOUNT_LOCKED')
        .execute(),
    );
    assert.equal(events.length, 1, 'one lock, one ACCOUNT_LOCKED');
    const blocked = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('login_audits')
        .select('failure_reason')
        .where('user_id', '=', customer.userId)
        .where('status', '=', 'blocked')
        .execute(),
    );
    assert.deepEqual(blocked, [{ failure_reason: 'account_locked' }]);
    // The second lockout doubles: unlock by time, fail five more times.
    await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .updateTable('users')
        .set({ locked_until: new Date(Date.now() - 1000) })
        .where('id', '=', customer.userId)
        .execute(),
    );
    for (let attempt = 1; attempt <= 5; attempt += 1) await startLogin({ ...base, pin: '999999' });
    const twice = await usersRow(customer.userId);
    assert.equal(twice.lockout_count, 2);
    const doubled = ((twice.locked_until?.getTime() ?? 0) - Date.now()) / 60_000;
    assert.ok(doubled > 29 && doubled <= 30, `locked for ${doubled} minutes`);
  });

  test('wrong OTPs count against the account like wrong PINs', async () => {
    const customer = await loginCustomer(harness.app);
    const base = fields({
      phone: customer.phone,
      account_number: customer.accountNumber,
      name: customer.name,
    });
    const { login_token } = (await startLogin(base)).json() as { login_token: string };
    const otp = await latestCode(harness.app, customer.phone);
    await verify(login_token, wrongOtp(otp));
    await verify(login_token, wrongOtp(otp));
    assert.equal((await usersRow(customer.userId)).failed_login_attempts, 2);
  });
});

describe('banking login: user status (seed 000)', () => {
  test('inactive (0) cannot log in; blocked (2) can, with status 2 on the principal', async () => {
    const inactive = await loginCustomer(harness.app);
    const blocked = await loginCustomer(harness.app);
    await withScope(harness.database.db, { tenantId }, async (transaction) => {
      await transaction.updateTable('users').set({ status: 0 }).where('id', '=', inactive.userId).execute();
      await transaction.updateTable('users').set({ status: 2 }).where('id', '=', blocked.userId).execute();
    });
    const refused = await startLogin(
      fields({ phone: inactive.phone, account_number: inactive.accountNumber, name: inactive.name }),
    );
    assert.equal(refused.statusCode, 403);
    assert.equal(errorCode(refused), 'ACCOUNT_INACTIVE');
    // The inactive customer's existing session stops working too.
    const stale = await harness.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(inactive) });
    assert.equal(stale.statusCode, 401);
    const again = await loginCustomer(harness.app, {
      phone: blocked.phone,
      accountNumber: blocked.accountNumber,
      name: blocked.name,
    });
    const me = await harness.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(again) });
    assert.equal(me.statusCode, 200);
    assert.equal((me.json() as { status: number }).status, 2);
  });
});

secretsNeverLeakTest(() => harness);
