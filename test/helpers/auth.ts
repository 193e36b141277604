import { randomInt } from 'node:crypto';
import type { AppInstance } from '../../src/app.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { hashPassword } from '../../src/modules/identity/credential-hashing.ts';
import { encryptSecret } from '../../src/modules/mfa/secret-encryption.ts';
import { generateTotp, newTotpSecret } from '../../src/modules/mfa/totp.ts';
import type { RoleName } from '../../src/platform/auth/permissions.ts';

/**
 * Logging people in for tests, through the real HTTP flows. Customers register and log in with the
 * banking login (the OTP read from the development outbox); staff are created in the database with a
 * known password and TOTP secret, then log in over HTTP with a current TOTP code.
 */
export interface LoggedIn {
  accessToken: string;
  refreshToken: string;
  userId: string;
  tenantId: string;
  sessionId: string;
}

export interface LoggedInCustomer extends LoggedIn {
  phone: string;
  accountNumber: string;
  name: string;
  motherName: string;
  pin: string;
}

export interface LoggedInStaff extends LoggedIn {
  email: string;
  password: string;
  totpSecret: string;
}

/**
 * Not the development seed's PIN (123456): that one is public (the OpenAPI examples show it), and the
 * secrets scan of the identity suites must still catch the test PIN leaking into any response.
 */
export const testPin = '482916';
export const testMotherName = 'Mother Of Test';
export const testStaffPassword = 'Staff-Password-For-Tests-2026';

/** The default tenant of the app, created on first use (test databases start without tenants). */
export async function ensureTenant(app: AppInstance, slug = app.config.defaultTenantSlug): Promise<string> {
  const db = app.database.db;
  await db
    .insertInto('tenants')
    .values({ slug, name: `Tenant ${slug}` })
    .onConflict((conflict) => conflict.column('slug').doNothing())
    .execute();
  const row = await db.selectFrom('tenants').select('id').where('slug', '=', slug).executeTakeFirstOrThrow();
  return row.id;
}

function tenantHeaders(tenantId: string | undefined): Record<string, string> {
  return tenantId ? { 'x-tenant-id': tenantId } : {};
}

export function randomPhone(): string {
  return `08${String(randomInt(1_000_000_000, 9_999_999_999))}`;
}

export function randomAccountNumber(): string {
  return `9${String(randomInt(100_000_000, 999_999_999))}${String(randomInt(10_000, 99_999))}`;
}

/** The newest 6-digit code the outbox holds for a phone or email address. */
export async function latestCode(app: AppInstance, to: string): Promise<string> {
  const response = await app.inject({
    method: 'GET',
    url: `/v1/dev/outbox?to=${encodeURIComponent(to)}&limit=1`,
  });
  if (response.statusCode !== 200) throw new Error(`outbox answered ${response.statusCode}`);
  const [message] = (response.json() as { messages: { body: string }[] }).messages;
  const code = message?.body.match(/\b(\d{6})\b/)?.[1];
  if (!code) throw new Error(`no code in the outbox for ${to}`);
  return code;
}

export interface CustomerOptions {
  phone?: string;
  accountNumber?: string;
  name?: string;
  /** A tenant other than the default (sent as x-tenant-id). */
  tenantId?: string;
}

/** Registers a new customer (or logs in an existing one with the test PIN) through the banking login. */
export async function loginCustomer(
  app: AppInstance,
  options: CustomerOptions = {},
): Promise<LoggedInCustomer> {
  const tenantId = options.tenantId ?? (await ensureTenant(app));
  const phone = options.phone ?? randomPhone();
  const accountNumber = options.accountNumber ?? randomAccountNumber();
  const name = options.name ?? `Test Customer ${phone.slice(-4)}`;
  const headers = tenantHeaders(options.tenantId);
  const login = await app.inject({
    method: 'POST',
    url: '/v1/auth/banking/login',
    headers,
    payload: {
      name,
      phone,
      account_number: accountNumber,
      mother_name: testMotherName,
      pin: testPin,
      device: { type: 'android', id: `device-${phone}`, name: 'Test Phone' },
    },
  });
  if (login.statusCode !== 200) throw new Error(`banking login answered ${login.statusCode}: ${login.body}`);
  const { login_token } = login.json() as { login_token: string };
  const otp = await latestCode(app, phone);
  const verify = await app.inject({
    method: 'POST',
    url: '/v1/auth/banking/verify',
    headers,
    payload: { login_token, otp },
  });
  if (verify.statusCode !== 200)
    throw new Error(`banking verify answered ${verify.statusCode}: ${verify.body}`);
  const body = verify.json() as {
    access_token: string;
    refresh_token: string;
    session_id: string;
    user: { id: string };
  };
  return {
    accessToken: body.access_token,
    refreshToken: body.refresh_token,
    userId: body.user.id,
    sessionId: body.session_id,
    tenantId,
    phone,
    accountNumber,
    name,
    motherName: testMotherName,
    pin: testPin,
  };
}

/** Step one of the banking login of an existing customer with this PIN (the test PIN by default). */
export function startBankingLogin(app: AppInstance, customer: LoggedInCustomer, pin = customer.pin) {
  return app.inject({
    method: 'POST',
    url: '/v1/auth/banking/login',
    payload: {
      name: customer.name,
      phone: customer.phone,
      account_number: customer.accountNumber,
      mother_name: customer.motherName,
      pin,
      device: { type: 'android', id: `device-${customer.phone}`, name: 'Test Phone' },
    },
  });
}

/** Both steps of the banking login of an existing customer with this PIN; the verify step's answer. */
export async function fullBankingLogin(app: AppInstance, customer: LoggedInCustomer, pin = customer.pin) {
  const started = await startBankingLogin(app, customer, pin);
  if (started.statusCode !== 200)
    throw new Error(`banking login answered ${started.statusCode}: ${started.body}`);
  const { login_token } = started.json() as { login_token: string };
  const otp = await latestCode(app, customer.phone);
  return app.inject({ method: 'POST', url: '/v1/auth/banking/verify', payload: { login_token, otp } });
}

let staffPasswordHash: Promise<string> | undefined;

export interface StaffOptions {
  /** Extra permissions beyond the role's (users.permissions). */
  permissions?: string[];
  tenantId?: string;
  /** Leave MFA unenrolled: the session is limited to enrolling it. */
  withoutMfa?: boolean;
}

/** Creates a staff member of the role in the database, then logs in over HTTP with password and TOTP. */
export async function loginStaff(
  app: AppInstance,
  role: RoleName,
  options: StaffOptions = {},
): Promise<LoggedInStaff> {
  const tenantId = options.tenantId ?? (await ensureTenant(app));
  staffPasswordHash ??= hashPassword(testStaffPassword);
  const passwordHash = await staffPasswordHash;
  const email = `${role.replace('_', '-')}-${randomInt(1_000_000_000)}@staff.test`;
  const totpSecret = newTotpSecret();
  const userId = await withScope(app.database.db, { tenantId }, async (transaction) => {
    const user = await transaction
      .insertInto('users')
      .values({
        tenant_id: tenantId,
        role,
        email,
        name: `Test ${role} ${email.slice(-14, -11)}`,
        password_hash: passwordHash,
        password_changed_at: new Date(),
        password_expires_at: new Date(Date.now() + 90 * 86_400_000),
        is_verified: true,
        email_verified_at: new Date(),
        permissions: options.permissions ?? [],
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    if (!options.withoutMfa) {
      const encrypted = encryptSecret(
        app.config.authentication.mfaEncryptionKeys,
        tenantId,
        user.id,
        totpSecret,
      );
      await transaction
        .updateTable('users')
        .set({
          mfa_enabled: true,
          mfa_secret_ciphertext: encrypted.ciphertext,
          mfa_secret_key_id: encrypted.keyId,
        })
        .where('id', '=', user.id)
        .execute();
    }
    return user.id;
  });
  const payload: Record<string, unknown> = { email, password: testStaffPassword };
  if (!options.withoutMfa) payload.totp = generateTotp({ secretBase32: totpSecret }, Date.now());
  const response = await app.inject({
    method: 'POST',
    url: '/v1/admin/auth/login',
    headers: tenantHeaders(options.tenantId),
    payload,
  });
  if (response.statusCode !== 200)
    throw new Error(`staff login answered ${response.statusCode}: ${response.body}`);
  const body = response.json() as { access_token: string; refresh_token: string; session_id: string };
  return {
    accessToken: body.access_token,
    refreshToken: body.refresh_token,
    sessionId: body.session_id,
    userId,
    tenantId,
    email,
    password: testStaffPassword,
    totpSecret,
  };
}

/** `{ authorization: 'Bearer …' }` for app.inject. */
export function bearer(login: Pick<LoggedIn, 'accessToken'>): { authorization: string } {
  return { authorization: `Bearer ${login.accessToken}` };
}

/** Registers an email customer and follows the verification link from the outbox: ready to log in. */
export async function registerEmailCustomer(
  app: AppInstance,
  password: string,
): Promise<{ email: string; userId: string }> {
  const email = `person-${randomInt(1_000_000_000)}@example.com`;
  const registered = await app.inject({
    method: 'POST',
    url: '/v1/auth/email/register',
    payload: { email, password, name: 'Email Person' },
  });
  if (registered.statusCode !== 202) throw new Error(`registration answered ${registered.statusCode}`);
  const outbox = await app.inject({
    method: 'GET',
    url: `/v1/dev/outbox?to=${encodeURIComponent(email)}&limit=1`,
  });
  const [message] = (outbox.json() as { messages: { body: string }[] }).messages;
  const token = message?.body.match(/token=([A-Za-z0-9_-]+)/)?.[1];
  if (!token) throw new Error(`no verification link in the outbox for ${email}`);
  const verified = await app.inject({ method: 'POST', url: '/v1/auth/email/verify', payload: { token } });
  if (verified.statusCode !== 200) throw new Error(`verification answered ${verified.statusCode}`);
  const tenantId = await ensureTenant(app);
  const row = await withScope(app.database.db, { tenantId }, (transaction) =>
    transaction.selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow(),
  );
  return { email, userId: row.id };
}
