import { sql } from 'kysely';
import type { Config } from '../../config/config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import type { AuditContext } from '../../platform/audit/audit-trail.ts';
import { staffRoles } from '../../platform/auth/permissions.ts';
import { AppError, type ErrorCode } from '../../platform/errors.ts';
import { checkSecondFactor, isTrustedDevice, type MfaUser, trustDevice } from '../mfa/second-factor.ts';
import { type DeviceInfo, type IssuedTokens, openSession } from '../sessions/session-tokens.ts';
import {
  hashPassword,
  hashSecretToken,
  isLegacyBcryptHash,
  verifyDummyPassword,
  verifyPassword,
} from './credential-hashing.ts';
import { type UserSummary, userSummary } from './identity.schemas.ts';
import {
  ipFailureCount,
  isLocked,
  type LoginAttempt,
  recordLoginBlocked,
  recordLoginFailure,
  recordLoginSuccess,
} from './login-attempts.ts';

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
}

interface PasswordUserRow extends MfaUser {
  role: string;
  name: string;
  phone: string | null;
  email: string | null;
  status: number;
  kyc_tier: number;
  password_hash: string | null;
  email_verified_at: Date | null;
  password_expires_at: Date | null;
  deleted_at: Date | null;
  failed_login_attempts: number;
  lockout_count: number;
  locked_until: Date | null;
}

export interface LoginServices {
  config: Config;
  database: DatabaseHandle;
}

type Outcome = { ok: true; value: PasswordSession } | { ok: false; code: ErrorCode };

async function findUser(
  transaction: ScopedTransaction,
  email: string,
  staff: boolean,
): Promise<PasswordUserRow | undefined> {
  const row = await transaction
    .selectFrom('users')
    .select([
      'id',
      'tenant_id',
      'role',
      'name',
      'phone',
      'email',
      'status',
      'kyc_tier',
      'password_hash',
      'email_verified_at',
      'password_expires_at',
      'deleted_at',
      'failed_login_attempts',
      'lockout_count',
      'locked_until',
      'mfa_enabled',
      'mfa_secret_ciphertext',
      'mfa_secret_key_id',
      'totp_last_used_step',
    ])
    .where('email', '=', email.toLowerCase())
    .where('role', staff ? 'in' : '=', staff ? [...staffRoles] : 'customer')
    .executeTakeFirst();
  return row as PasswordUserRow | undefined;
}

async function unknownIdentifierFailures(
  transaction: ScopedTransaction,
  authentication: Config['authentication'],
  identifier: string,
): Promise<number> {
  const row = await transaction
    .selectFrom('login_audits')
    .select((eb) => eb.fn.countAll<string>().as('failures'))
    .where('status', '=', 'failed')
    .where('user_id', 'is', null)
    .where('admin_id', 'is', null)
    .where('created_at', '>', sql<Date>`now() - make_interval(mins => ${authentication.lockoutBaseMinutes})`)
    .where(sql<string>`device_info ->> 'identifier'`, '=', identifier)
    .executeTakeFirst();
  return Number(row?.failures ?? 0);
}

export async function passwordLogin(
  services: LoginServices,
  context: AuditContext,
  input: PasswordLoginInput,
  kind: 'customer' | 'staff',
): Promise<PasswordSession> {
  const { config, database } = services;
  const authentication = config.authentication;
  const staff = kind === 'staff';
  const attempt: LoginAttempt = {
    context,
    userId: undefined,
    loginType: staff ? 'admin_login' : 'user_login',
    method: 'password',
    deviceInfo: input.device ? { device_type: input.device.type, device_name: input.device.name } : undefined,
  };
  const scope = { tenantId: context.tenantId };
  const found = await withScope(database.db, scope, async (transaction) => {
    if (
      (await ipFailureCount(transaction, authentication, context.ipAddress)) >= authentication.ipFailuresMax
    ) {
      await recordLoginBlocked(transaction, attempt, 'ip_blocked');
      return 'ip_blocked' as const;
    }
    return findUser(transaction, input.email, staff);
  });
  if (found === 'ip_blocked') throw new AppError('TOO_MANY_ATTEMPTS');
  const passwordMatches =
    found?.password_hash != null
      ? await verifyPassword(found.password_hash, input.password)
      : await verifyDummyPassword(input.password);
  // A legacy bcrypt hash is replaced now, while the plain password is at hand (seed 002 → argon2id).
  const upgradedHash =
    passwordMatches && found?.password_hash && isLegacyBcryptHash(found.password_hash)
      ? await hashPassword(input.password)
      : undefined;
  const outcome = await withScope(database.db, scope, async (transaction): Promise<Outcome> => {
    if (!found) {
      // An unknown email "locks" after as many failures as a real account would, so the lockout
      // answer does not tell which emails have accounts.
      const identifier = hashSecretToken(
        `login-identifier:${input.email.toLowerCase()}`,
        config.secretTokenKey,
      );
      const earlier = await unknownIdentifierFailures(transaction, authentication, identifier);
      attempt.deviceInfo = { ...attempt.deviceInfo, identifier };
      await recordLoginFailure(transaction, authentication, attempt, 'invalid_credentials', undefined);
      return {
        ok: false,
        code: earlier + 1 >= authentication.lockoutThreshold ? 'ACCOUNT_LOCKED' : 'INVALID_CREDENTIALS',
      };
    }
    attempt.userId = found.id;
    // Re-read under a row lock: the counters may have moved while the password was being checked.
    const user = (await transaction
      .selectFrom('users')
      .select(['id', 'failed_login_attempts', 'lockout_count', 'locked_until', 'totp_last_used_step'])
      .where('id', '=', found.id)
      .forUpdate()
      .executeTakeFirst()) ?? { ...found };
    if (isLocked(user)) {
      await recordLoginBlocked(transaction, attempt, 'account_locked');
      return { ok: false, code: 'ACCOUNT_LOCKED' };
    }
    if (!passwordMatches) {
      const locked = await recordLoginFailure(
        transaction,
        authentication,
        attempt,
        'invalid_credentials',
        user,
      );
      return { ok: false, code: locked ? 'ACCOUNT_LOCKED' : 'INVALID_CREDENTIALS' };
    }
    return completeLogin(transaction, services, context, attempt, { ...found, ...user }, input, upgradedHash);
  });
  if (!outcome.ok) throw new AppError(outcome.code);
  return outcome.value;
}

/** After the password: account state, the second factor, then the session. */
async function completeLogin(
  transaction: ScopedTransaction,
  services: LoginServices,
  context: AuditContext,
  attempt: LoginAttempt,
  user: PasswordUserRow,
  input: PasswordLoginInput,
  upgradedHash: string | undefined,
): Promise<Outcome> {
  const { config } = services;
  const isStaff = staffRoles.includes(user.role as 'admin');
  if (user.status === 0 || user.deleted_at !== null) {
    await recordLoginBlocked(transaction, attempt, 'account_inactive');
    return { ok: false, code: 'ACCOUNT_INACTIVE' };
  }
  if (!isStaff && user.email_verified_at === null) {
    await recordLoginBlocked(transaction, attempt, 'account_inactive');
    return { ok: false, code: 'EMAIL_NOT_VERIFIED' };
  }
  if (user.password_expires_at !== null && user.password_expires_at.getTime() <= Date.now()) {
    await recordLoginBlocked(transaction, attempt, 'account_inactive');
    return { ok: false, code: 'PASSWORD_EXPIRED' };
  }
  let mfaVerified = !isStaff;
  let trustedDeviceToken: string | undefined;
  if (user.mfa_enabled) {
    const trusted =
      input.trusted_device_token !== undefined &&
      (await isTrustedDevice(transaction, config, user, input.trusted_device_token, context.ipAddress));
    if (!trusted) {
      const result = await checkSecondFactor(transaction, config, user, input);
      if (result === 'missing') return { ok: false, code: 'MFA_REQUIRED' };
      if (result === 'invalid') {
        const failedAttempt = {
          ...attempt,
          method: input.totp ? ('totp' as const) : ('backup_code' as const),
        };
        const locked = await recordLoginFailure(
          transaction,
          config.authentication,
          failedAttempt,
          'mfa_invalid',
          user,
        );
        return { ok: false, code: locked ? 'ACCOUNT_LOCKED' : 'MFA_INVALID' };
      }
      if (input.remember_device) {
        trustedDeviceToken = await trustDevice(
          transaction,
          config,
          context.tenantId,
          user.id,
          input.device ?? { type: 'web' },
          context.ipAddress,
        );
      }
    }
    mfaVerified = true;
  }
  if (upgradedHash) {
    await transaction
      .updateTable('users')
      .set({ password_hash: upgradedHash, password_changed_at: sql<Date>`now()` })
      .where('id', '=', user.id)
      .execute();
  }
  await recordLoginSuccess(transaction, { ...attempt, userId: user.id });
  const tokens = await openSession(transaction, config, {
    tenantId: context.tenantId,
    userId: user.id,
    device: input.device ?? { type: 'web' },
    provider: 'email',
    origin: { ipAddress: context.ipAddress, userAgent: context.userAgent },
    mfaVerified,
  });
  return { ok: true, value: { ...tokens, user: userSummary(user), trustedDeviceToken } };
}
