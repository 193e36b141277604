import type { Config } from '../../config/config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import type { AuditContext } from '../../platform/audit/audit-trail.ts';
import { staffRoles } from '../../platform/auth/permissions.ts';
import { AppError } from '../../platform/errors.ts';
import { type ConsentStatus, consentStatusIn } from '../consents/consents.service.ts';
import { checkSecondFactor, trustDevice, trustedDeviceOf } from '../mfa/second-factor.ts';
import { type DeviceInfo, type IssuedTokens, openSession } from '../sessions/session-tokens.ts';
import {
  hashPassword,
  isLegacyBcryptHash,
  verifyDummyPassword,
  verifyPassword,
} from './credential-hashing.ts';
import { type UserSummary, userSummary } from './identity.schemas.ts';
import {
  type AttemptServices,
  answerRefusal,
  assertTenantActive,
  type BlockReason,
  type DecidedAttempt,
  decideAttempt,
  decideAttemptIn,
  type LoginAttempt,
  recordFailureAlone,
  recordRefusedAfterCheck,
  settleSuccess,
  unknownIdentifier,
} from './login-attempts.ts';
import { userStatus } from './user-status.ts';
import { findLoginUserByEmail, upgradePasswordHash } from './users.repository.ts';

/**
 * Email and password login, for customers with email accounts (seeds 001, 002) and for staff
 * (POST /v1/admin/auth/login, seeds 000 and 003). The password is verified outside any database
 * transaction: argon2 takes tens of milliseconds and must not hold a connection while it runs.
 */
export interface PasswordLoginInput {
  email: string;
  password: string;
  totp?: string | undefined;
  backup_code?: string | undefined;
  device?: DeviceInfo | undefined;
  trusted_device_token?: string | undefined;
  remember_device?: boolean | undefined;
}

export interface PasswordSession extends IssuedTokens {
  user: UserSummary;
  trustedDeviceToken: string | undefined;
  /** A customer's documents still to accept (consents.service.ts); undefined for staff. */
  consent: ConsentStatus | undefined;
}

type PasswordUserRow = NonNullable<Awaited<ReturnType<typeof findLoginUserByEmail>>>;

export interface LoginServices {
  config: Config;
  database: DatabaseHandle;
}

/** How the completing transaction ended: a session, a refusal, or a wrong second factor to record. */
type Outcome =
  | { ok: true; value: PasswordSession }
  | { ok: false; error: AppError }
  | { ok: false; factor: DecidedAttempt };

async function findUser(
  transaction: ScopedTransaction,
  email: string,
  staff: boolean,
): Promise<PasswordUserRow | undefined> {
  return findLoginUserByEmail(transaction, email.toLowerCase(), staff);
}

function attemptServices(services: LoginServices): AttemptServices {
  return { db: services.database.db, config: services.config };
}

export async function passwordLogin(
  services: LoginServices,
  context: AuditContext,
  input: PasswordLoginInput,
  kind: 'customer' | 'staff',
): Promise<PasswordSession> {
  const { config, database } = services;
  const scope = { tenantId: context.tenantId };
  const found = await withScope(database.db, scope, async (transaction) => {
    await assertTenantActive(transaction, context.tenantId);
    return findUser(transaction, input.email, kind === 'staff');
  });
  const deviceInfo = input.device ? { device_type: input.device.type, device_name: input.device.name } : {};
  // An unknown email "locks" after as many failures as a real account would, so the lockout answer
  // does not tell which emails have accounts.
  const identifier = found ? undefined : unknownIdentifier(config, input.email);
  const attempt: LoginAttempt = {
    context,
    userId: found?.id,
    loginType: kind === 'staff' ? 'admin_login' : 'user_login',
    method: 'password',
    deviceInfo: identifier ? { ...deviceInfo, identifier } : deviceInfo,
  };
  const subject = found ? { userId: found.id } : identifier ? { unknownIdentifier: identifier } : undefined;
  // Hashed outside any transaction: argon2 takes tens of milliseconds and must not hold a connection
  // or a row lock. The answer depends on it only through the verdict decideAttempt takes under the lock.
  const passwordMatches =
    found?.password_hash != null
      ? await verifyPassword(found.password_hash, input.password)
      : await verifyDummyPassword(input.password);
  const decided = await decideAttempt(attemptServices(services), attempt, subject, () => passwordMatches);
  if (!found || !decided.right) {
    const locked = await recordFailureAlone(attemptServices(services), decided, 'invalid_credentials');
    throw new AppError(locked ? 'ACCOUNT_LOCKED' : 'INVALID_CREDENTIALS');
  }
  // A legacy bcrypt hash is replaced now, while the plain password is at hand (seed 002 → argon2id).
  const upgradedHash =
    found.password_hash && isLegacyBcryptHash(found.password_hash)
      ? await hashPassword(input.password)
      : undefined;
  let outcome: Outcome;
  try {
    outcome = await withScope(database.db, scope, (transaction) =>
      completeLogin(transaction, services, decided, found, input, upgradedHash),
    );
  } catch (error) {
    throw await answerRefusal(attemptServices(services), attempt, error);
  }
  if (outcome.ok) return outcome.value;
  if ('error' in outcome) throw outcome.error;
  const locked = await recordFailureAlone(attemptServices(services), outcome.factor, 'mfa_invalid');
  throw new AppError(locked ? 'ACCOUNT_LOCKED' : 'MFA_INVALID');
}

/** The account may not log in although the password was right: given back and recorded as blocked. */
async function refuse(
  transaction: ScopedTransaction,
  config: Config,
  decided: DecidedAttempt,
  reason: BlockReason,
  error: AppError,
): Promise<Outcome> {
  await recordRefusedAfterCheck(transaction, config, decided, reason);
  return { ok: false, error };
}

/** Account states that refuse a login after a right password, or undefined when none does. */
async function refuseAccountState(
  transaction: ScopedTransaction,
  config: Config,
  decided: DecidedAttempt,
  user: PasswordUserRow,
  isStaff: boolean,
): Promise<Outcome | undefined> {
  if (user.status === userStatus.inactive || user.deleted_at !== null) {
    return refuse(transaction, config, decided, 'account_inactive', new AppError('ACCOUNT_INACTIVE'));
  }
  // Seed 000: a blocked admin cannot perform any actions (a blocked customer may still log in and read).
  if (isStaff && user.status === userStatus.blocked) {
    const blocked = new AppError('ACCOUNT_BLOCKED', 'This staff account is blocked.');
    return refuse(transaction, config, decided, 'account_blocked', blocked);
  }
  if (!isStaff && user.email_verified_at === null) {
    return refuse(transaction, config, decided, 'account_inactive', new AppError('EMAIL_NOT_VERIFIED'));
  }
  if (user.password_expires_at !== null && user.password_expires_at.getTime() <= Date.now()) {
    return refuse(transaction, config, decided, 'account_inactive', new AppError('PASSWORD_EXPIRED'));
  }
  return undefined;
}

/** After the password: account state, the second factor, then the session. */
async function completeLogin(
  transaction: ScopedTransaction,
  services: LoginServices,
  decided: DecidedAttempt,
  user: PasswordUserRow,
  input: PasswordLoginInput,
  upgradedHash: string | undefined,
): Promise<Outcome> {
  const { config } = services;
  const context = decided.attempt.context;
  const isStaff = staffRoles.includes(user.role as 'admin');
  const refused = await refuseAccountState(transaction, config, decided, user, isStaff);
  if (refused) return refused;
  let mfaVerified = !isStaff;
  let device: TrustedDeviceOutcome = {};
  if (user.mfa_enabled) {
    const passed = await passSecondFactor(transaction, services, decided, user, input);
    if ('refused' in passed) return passed.refused;
    device = passed;
    mfaVerified = true;
  }
  if (upgradedHash) {
    await upgradePasswordHash(transaction, user.id, upgradedHash);
  }
  const signals = await settleSuccess(transaction, decided, user.id);
  const tokens = await openSession(transaction, config, {
    tenantId: context.tenantId,
    userId: user.id,
    device: input.device ?? { type: 'web' },
    provider: 'email',
    origin: { ipAddress: context.ipAddress, userAgent: context.userAgent },
    mfaVerified,
    trustedDeviceId: device.id,
    security: { context: { ...context, userId: user.id }, signals },
  });
  const consent = isStaff
    ? undefined
    : await consentStatusIn(transaction, config.consent, context.tenantId, user.id);
  return {
    ok: true,
    value: { ...tokens, user: userSummary(user), trustedDeviceToken: device.token, consent },
  };
}

/** The device the login came from when it is (or is now) trusted: its id, and a new one's token. */
type TrustedDeviceOutcome = { id?: string | undefined; token?: string | undefined };

/**
 * The second factor of a user with MFA on: a trusted device's token passes it; otherwise a TOTP or
 * backup code, decided and (when wrong) counted under the login's locks, remembering the device when
 * asked.
 */
async function passSecondFactor(
  transaction: ScopedTransaction,
  services: LoginServices,
  decided: DecidedAttempt,
  user: PasswordUserRow,
  input: PasswordLoginInput,
): Promise<TrustedDeviceOutcome | { refused: Outcome }> {
  const { config } = services;
  const context = decided.attempt.context;
  const trustedId =
    input.trusted_device_token === undefined
      ? undefined
      : await trustedDeviceOf(transaction, config, user, input.trusted_device_token, context.ipAddress);
  if (trustedId) return { id: trustedId };
  if (!input.totp && !input.backup_code)
    return { refused: { ok: false, error: new AppError('MFA_REQUIRED') } };
  // The second factor is a credential of its own: decided and, when wrong, counted under the locks.
  const factor = await decideAttemptIn(
    transaction,
    config,
    { ...decided.attempt, method: input.totp ? 'totp' : 'backup_code' },
    { userId: user.id },
    async () => (await checkSecondFactor(transaction, config, user, input)) === 'verified',
    true,
  );
  if (!factor.right) return { refused: { ok: false, factor } };
  if (!input.remember_device) return {};
  return trustDevice(
    transaction,
    config,
    context.tenantId,
    user.id,
    input.device ?? { type: 'web' },
    context.ipAddress,
  );
}
