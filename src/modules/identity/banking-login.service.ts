import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import type { Config } from '../../config/config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import { AppError, type ErrorCode } from '../../platform/errors.ts';
import type { MessageSender } from '../dev-outbox/message-outbox.ts';
import { type IssuedTokens, openSession } from '../sessions/session-tokens.ts';
import { hashPin, hashSecretToken, verifyPin } from './credential-hashing.ts';
import type { BankingLoginBody, BankingVerifyBody, UserSummary } from './identity.schemas.ts';
import { userSummary } from './identity.schemas.ts';
import {
  ipFailureCount,
  isLocked,
  type LoginAttempt,
  recordLoginBlocked,
  recordLoginFailure,
  recordLoginSuccess,
} from './login-attempts.ts';

/**
 * Banking login (seed 000), two steps. Step one checks the customer's details (or, for an unknown
 * phone, prepares a registration) and sends a 6-digit OTP; step two exchanges the single-use login
 * token and the OTP for a session. OTPs and login tokens are stored as keyed hashes only.
 */
export interface BankingServices {
  config: Config;
  database: DatabaseHandle;
  messages: MessageSender;
}

export interface LoginChallenge {
  loginToken: string;
  expiresInSeconds: number;
}

export interface BankingSession extends IssuedTokens {
  user: UserSummary;
}

interface CustomerRow {
  id: string;
  name: string;
  mother_name: string | null;
  pin_hash: string | null;
  status: number;
  deleted_at: Date | null;
  failed_login_attempts: number;
  lockout_count: number;
  locked_until: Date | null;
}

/** Names are compared as people type them: case and runs of spaces do not matter. */
function sameName(left: string, right: string | null): boolean {
  if (right === null) return false;
  const normalise = (value: string) => value.trim().replace(/\s+/g, ' ').toLowerCase();
  return normalise(left) === normalise(right);
}

function otpHash(config: Config, loginTokenHash: string, otp: string): string {
  // Bound to its login token, so one OTP hash says nothing about another session's code.
  return hashSecretToken(`${loginTokenHash}:${otp}`, config.secretTokenKey);
}

function sameHex(left: string, right: string): boolean {
  const a = Buffer.from(left, 'hex');
  const b = Buffer.from(right, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The outcome of a step, decided inside the transaction and thrown after it commits, so failures are recorded. */
type Outcome<T> = { ok: true; value: T } | { ok: false; code: ErrorCode };

function unwrap<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw new AppError(outcome.code);
  return outcome.value;
}

async function findCustomerByPhone(
  transaction: ScopedTransaction,
  phone: string,
): Promise<CustomerRow | undefined> {
  return transaction
    .selectFrom('users')
    .select([
      'id',
      'name',
      'mother_name',
      'pin_hash',
      'status',
      'deleted_at',
      'failed_login_attempts',
      'lockout_count',
      'locked_until',
    ])
    .where('phone', '=', phone)
    .where('role', '=', 'customer')
    .executeTakeFirst();
}

async function ownsAccountNumber(
  transaction: ScopedTransaction,
  userId: string,
  accountNumber: string,
): Promise<boolean> {
  const row = await transaction
    .selectFrom('bank_accounts')
    .select('id')
    .where('user_id', '=', userId)
    .where('account_number', '=', accountNumber)
    .where('is_active', '=', true)
    .executeTakeFirst();
  return row !== undefined;
}

async function accountNumberTaken(transaction: ScopedTransaction, accountNumber: string): Promise<boolean> {
  const row = await transaction
    .selectFrom('wallets')
    .select('id')
    .where('account_number', '=', accountNumber)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * The PIN hash the OTP session carries: the known customer's own after their details all match, or
 * a new one for a registration. Every check runs whatever the earlier ones said, so the time taken
 * does not say which one failed.
 */
async function checkCustomer(
  transaction: ScopedTransaction,
  config: Config,
  attempt: LoginAttempt,
  customer: CustomerRow | undefined,
  body: BankingLoginBody,
): Promise<Outcome<string>> {
  const authentication = config.authentication;
  if (!customer) {
    if (await accountNumberTaken(transaction, body.account_number)) {
      await recordLoginFailure(transaction, authentication, attempt, 'account_number_taken', undefined);
      return { ok: false, code: 'INVALID_CREDENTIALS' };
    }
    const pepper = config.pinPeppers[0];
    if (!pepper) throw new Error('no PIN pepper configured');
    return { ok: true, value: hashPin(body.pin, pepper) };
  }
  attempt.userId = customer.id;
  if (isLocked(customer)) {
    await recordLoginBlocked(transaction, attempt, 'account_locked');
    return { ok: false, code: 'ACCOUNT_LOCKED' };
  }
  const pinMatches = customer.pin_hash !== null && verifyPin(customer.pin_hash, body.pin, config.pinPeppers);
  const nameMatches = sameName(body.name, customer.name);
  const motherMatches = sameName(body.mother_name, customer.mother_name);
  const accountMatches = await ownsAccountNumber(transaction, customer.id, body.account_number);
  if (!(pinMatches && nameMatches && motherMatches && accountMatches)) {
    const locked = await recordLoginFailure(
      transaction,
      authentication,
      attempt,
      'credentials_mismatch',
      customer,
    );
    return { ok: false, code: locked ? 'ACCOUNT_LOCKED' : 'INVALID_CREDENTIALS' };
  }
  if (customer.status === 0 || customer.deleted_at !== null) {
    await recordLoginBlocked(transaction, attempt, 'account_inactive');
    return { ok: false, code: 'ACCOUNT_INACTIVE' };
  }
  return { ok: true, value: customer.pin_hash ?? '' };
}

/** Step one: POST /v1/auth/banking/login. */
export async function startBankingLogin(
  services: BankingServices,
  context: AuditContext,
  body: BankingLoginBody,
): Promise<LoginChallenge> {
  const { config } = services;
  const authentication = config.authentication;
  const loginToken = `lt_${randomBytes(32).toString('base64url')}`;
  const loginTokenHash = hashSecretToken(loginToken, config.secretTokenKey);
  const otp = randomInt(0, 1_000_000).toString().padStart(6, '0');
  const deviceInfo = { device_type: body.device.type, device_name: body.device.name };
  const scope = { tenantId: context.tenantId };
  const outcome = await withScope(
    services.database.db,
    scope,
    async (transaction): Promise<Outcome<null>> => {
      const attempt: LoginAttempt = {
        context,
        userId: undefined,
        loginType: 'user_login',
        method: 'banking_pin',
        deviceInfo,
      };
      if (
        (await ipFailureCount(transaction, authentication, context.ipAddress)) >= authentication.ipFailuresMax
      ) {
        await recordLoginBlocked(transaction, attempt, 'ip_blocked');
        return { ok: false, code: 'TOO_MANY_ATTEMPTS' };
      }
      const customer = await findCustomerByPhone(transaction, body.phone);
      const checked = await checkCustomer(transaction, config, attempt, customer, body);
      if (!checked.ok) return checked;
      await transaction
        .insertInto('otp_sessions')
        .values({
          tenant_id: context.tenantId,
          login_token_hash: loginTokenHash,
          phone: body.phone,
          otp_hash: otpHash(config, loginTokenHash, otp),
          name: body.name.trim(),
          account_number: body.account_number,
          mother_name: body.mother_name.trim(),
          pin_hash: checked.value,
          device_type: body.device.type,
          device_id: body.device.id,
          device_name: body.device.name,
          user_id: customer?.id ?? null,
          expires_at: sql<Date>`now() + make_interval(secs => ${authentication.loginTokenTtlSeconds})`,
          ip_address: context.ipAddress ?? null,
          user_agent: context.userAgent?.slice(0, 1000) ?? null,
        })
        .execute();
      return { ok: true, value: null };
    },
  );
  unwrap(outcome);
  const minutes = Math.round(authentication.loginTokenTtlSeconds / 60);
  await services.messages.sendSms(
    body.phone,
    `Your Corebank code is ${otp}. It expires in ${minutes} minutes. Never share it.`,
  );
  return { loginToken, expiresInSeconds: authentication.loginTokenTtlSeconds };
}

interface OtpSessionRow {
  id: string;
  otp_hash: string;
  phone: string;
  name: string;
  account_number: string;
  mother_name: string;
  pin_hash: string;
  device_type: string;
  device_id: string;
  device_name: string;
  user_id: string | null;
  failed_attempts: number;
  expires_at: Date;
  is_used: boolean;
}

/** After a correct OTP: the token is spent, the customer exists (registered now if new), the session opens. */
async function completeBankingLogin(
  transaction: ScopedTransaction,
  config: Config,
  context: AuditContext,
  attempt: LoginAttempt,
  session: OtpSessionRow,
  customer: { locked_until: Date | null } | undefined,
): Promise<Outcome<BankingSession>> {
  await transaction.updateTable('otp_sessions').set({ is_used: true }).where('id', '=', session.id).execute();
  if (customer && isLocked(customer)) {
    await recordLoginBlocked(transaction, attempt, 'account_locked');
    return { ok: false, code: 'ACCOUNT_LOCKED' };
  }
  if (!session.user_id && (await registrationConflicts(transaction, session))) {
    // Another login registered this phone or account number since step one.
    await recordLoginFailure(transaction, config.authentication, attempt, 'registration_conflict', undefined);
    return { ok: false, code: 'LOGIN_TOKEN_INVALID' };
  }
  const userId = session.user_id ?? (await registerCustomer(transaction, context, session));
  await recordLoginSuccess(transaction, { ...attempt, userId });
  const tokens = await openSession(transaction, config, {
    tenantId: context.tenantId,
    userId,
    device: { type: session.device_type as 'android', id: session.device_id, name: session.device_name },
    // device_sessions.provider names first-party credentials 'email' (seed 003); a PIN login is one.
    provider: 'email',
    origin: { ipAddress: context.ipAddress, userAgent: context.userAgent },
    mfaVerified: true,
  });
  const user = await transaction
    .selectFrom('users')
    .select(['id', 'name', 'phone', 'email', 'role', 'status', 'kyc_tier', 'mfa_enabled'])
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
  return { ok: true, value: { ...tokens, user: userSummary(user) } };
}

/** Step two: POST /v1/auth/banking/verify. */
export async function verifyBankingLogin(
  services: BankingServices,
  context: AuditContext,
  body: BankingVerifyBody,
): Promise<BankingSession> {
  const { config } = services;
  const authentication = config.authentication;
  const loginTokenHash = hashSecretToken(body.login_token, config.secretTokenKey);
  const outcome = await withScope(
    services.database.db,
    { tenantId: context.tenantId },
    async (transaction): Promise<Outcome<BankingSession>> => {
      const attempt: LoginAttempt = {
        context,
        userId: undefined,
        loginType: 'user_login',
        method: 'banking_otp',
      };
      if (
        (await ipFailureCount(transaction, authentication, context.ipAddress)) >= authentication.ipFailuresMax
      ) {
        await recordLoginBlocked(transaction, attempt, 'ip_blocked');
        return { ok: false, code: 'TOO_MANY_ATTEMPTS' };
      }
      // Locked so two concurrent verifications of one token cannot both succeed.
      const session = (await transaction
        .selectFrom('otp_sessions')
        .selectAll()
        .where('login_token_hash', '=', loginTokenHash)
        .forUpdate()
        .executeTakeFirst()) as OtpSessionRow | undefined;
      if (!session || session.is_used || session.expires_at.getTime() <= Date.now()) {
        await recordLoginFailure(transaction, authentication, attempt, 'login_token_invalid', undefined);
        return { ok: false, code: 'LOGIN_TOKEN_INVALID' };
      }
      attempt.userId = session.user_id ?? undefined;
      attempt.deviceInfo = { device_type: session.device_type, device_name: session.device_name };
      const customer = session.user_id ? await lockableCustomer(transaction, session.user_id) : undefined;
      if (!sameHex(otpHash(config, loginTokenHash, body.otp), session.otp_hash)) {
        const attempts = session.failed_attempts + 1;
        await transaction
          .updateTable('otp_sessions')
          .set({ failed_attempts: attempts, is_used: attempts >= authentication.otpAttemptsMax })
          .where('id', '=', session.id)
          .execute();
        const locked = await recordLoginFailure(
          transaction,
          authentication,
          attempt,
          'otp_invalid',
          customer,
        );
        return { ok: false, code: locked ? 'ACCOUNT_LOCKED' : 'OTP_INVALID' };
      }
      return completeBankingLogin(transaction, config, context, attempt, session, customer);
    },
  );
  return unwrap(outcome);
}

async function registrationConflicts(
  transaction: ScopedTransaction,
  session: OtpSessionRow,
): Promise<boolean> {
  const phoneTaken = await transaction
    .selectFrom('users')
    .select('id')
    .where('phone', '=', session.phone)
    .executeTakeFirst();
  return phoneTaken !== undefined || (await accountNumberTaken(transaction, session.account_number));
}

async function lockableCustomer(transaction: ScopedTransaction, userId: string) {
  return transaction
    .selectFrom('users')
    .select(['id', 'failed_login_attempts', 'lockout_count', 'locked_until'])
    .where('id', '=', userId)
    .executeTakeFirst();
}

/**
 * An unknown phone becomes a customer once its OTP is proven: the user, their profile, their primary
 * bank account and their IDR wallet numbered with the same account number, and the audit row.
 */
async function registerCustomer(
  transaction: ScopedTransaction,
  context: AuditContext,
  session: OtpSessionRow,
): Promise<string> {
  const user = await transaction
    .insertInto('users')
    .values({
      tenant_id: context.tenantId,
      role: 'customer',
      name: session.name,
      phone: session.phone,
      mother_name: session.mother_name,
      pin_hash: session.pin_hash,
      is_verified: true,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await transaction
    .insertInto('user_profiles')
    .values({
      tenant_id: context.tenantId,
      user_id: user.id,
      tags: ['customer'],
      metadata: JSON.stringify({}),
    })
    .execute();
  await transaction
    .insertInto('bank_accounts')
    .values({
      tenant_id: context.tenantId,
      user_id: user.id,
      account_number: session.account_number,
      account_name: session.name.slice(0, 100),
      account_type: 'saving',
      is_primary: true,
    })
    .execute();
  await transaction
    .insertInto('wallets')
    .values({
      tenant_id: context.tenantId,
      user_id: user.id,
      asset_code: 'IDR',
      kind: 'customer',
      account_number: session.account_number,
    })
    .execute();
  await recordAudit(
    transaction,
    { ...context, userId: user.id },
    {
      entityType: 'user',
      entityId: user.id,
      action: 'REGISTER',
      newValues: {
        name: session.name,
        phone: session.phone,
        account_number: session.account_number,
        role: 'customer',
      },
    },
  );
  return user.id;
}
