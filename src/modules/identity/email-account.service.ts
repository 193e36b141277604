import { randomBytes } from 'node:crypto';
import type { Config } from '../../config/config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import { staffRoles } from '../../platform/auth/permissions.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import type { MessageSender } from '../dev-outbox/message-outbox.ts';
import { recordCredentialChange, recordSecurityEvent } from '../security-events/security-events.service.ts';
import { endSessions, scopeOf } from '../sessions/sessions.service.ts';
import { hashPassword, hashSecretToken, verifyPassword } from './credential-hashing.ts';
import { registerCustomer } from './customer-registration.ts';
import {
  type AttemptServices,
  assertTenantActive,
  decideAttempt,
  recordFailureAlone,
} from './login-attempts.ts';
import { assertPasswordPolicy } from './password-policy.ts';
import { reserveEmailSend } from './send-limits.ts';
import {
  emailTaken,
  findLiveUserByEmail,
  findPasswordCredential,
  findUserRoleAndEmail,
  insertVerificationToken,
  markEmailVerified,
  retireVerificationTokens,
  updatePassword,
  useVerificationToken,
  type VerificationPurpose,
} from './users.repository.ts';

/**
 * Email accounts (seeds 001, 002): registration with a single-use verification link, forgotten and
 * reset passwords, and changing a password. Answers never say whether an email has an account.
 */
export interface EmailServices {
  config: Config;
  database: DatabaseHandle;
  messages: MessageSender;
}

type TokenPurpose = VerificationPurpose;

function attemptServices(services: EmailServices): AttemptServices {
  return { db: services.database.db, config: services.config };
}

/** Where links in emails point; the client app reads the token from the query string. */
export const accountLinkBase = 'https://app.corebank.dev';

function tokenHash(config: Config, token: string): string {
  return hashSecretToken(`verification:${token}`, config.secretTokenKey);
}

async function issueToken(
  transaction: ScopedTransaction,
  config: Config,
  tenantId: string,
  userId: string,
  purpose: TokenPurpose,
): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  const minutes =
    purpose === 'email_verification'
      ? config.authentication.emailVerificationTtlMinutes
      : config.authentication.passwordResetTtlMinutes;
  // A new link replaces any earlier one of the same purpose.
  await retireVerificationTokens(transaction, userId, purpose);
  await insertVerificationToken(transaction, {
    tenantId,
    userId,
    purpose,
    tokenHash: tokenHash(config, token),
    ttlMinutes: minutes,
  });
  return token;
}

/** Marks the token used and returns its user, or throws VERIFICATION_TOKEN_INVALID. */
async function consumeToken(
  transaction: ScopedTransaction,
  config: Config,
  token: string,
  purpose: TokenPurpose,
): Promise<string> {
  const userId = await useVerificationToken(transaction, tokenHash(config, token), purpose);
  if (userId === undefined) throw new AppError('VERIFICATION_TOKEN_INVALID');
  return userId;
}

export interface RegistrationInput {
  email: string;
  password: string;
  name: string;
}

/** POST /v1/auth/email/register: the same answer whether or not the email already has an account. */
export async function registerEmailAccount(
  services: EmailServices,
  context: AuditContext,
  input: RegistrationInput,
): Promise<void> {
  const { config } = services;
  const email = input.email.toLowerCase();
  assertPasswordPolicy(input.password, 'body.password', email);
  // Either answer sends an email, so the send limit applies before anything else.
  await reserveEmailSend(attemptServices(services), context, email);
  // Hashed before the lookup, so a taken email answers in the same time as a new one.
  const passwordHash = await hashPassword(input.password);
  const message = await withScope(
    services.database.db,
    { tenantId: context.tenantId },
    async (transaction) => {
      if (await emailTaken(transaction, email)) {
        return {
          subject: 'Corebank registration attempt',
          body: 'Someone tried to register with this email address, which already has an account. If it was you, log in or reset your password.',
        };
      }
      const userId = await registerCustomer(transaction, context, {
        kind: 'email',
        name: input.name,
        email,
        passwordHash,
      });
      const token = await issueToken(transaction, config, context.tenantId, userId, 'email_verification');
      return {
        subject: 'Verify your Corebank email',
        body: `Confirm your email address: ${accountLinkBase}/verify-email?token=${token}`,
      };
    },
  );
  await services.messages.sendEmail(email, message.subject, message.body);
}

/** POST /v1/auth/email/verify. */
export async function verifyEmail(
  services: EmailServices,
  context: AuditContext,
  token: string,
): Promise<void> {
  await withScope(services.database.db, { tenantId: context.tenantId }, async (transaction) => {
    await assertTenantActive(transaction, context.tenantId);
    const userId = await consumeToken(transaction, services.config, token, 'email_verification');
    await markEmailVerified(transaction, userId);
    await recordAudit(
      transaction,
      { ...context, userId },
      {
        entityType: 'user',
        entityId: userId,
        action: 'VERIFY_EMAIL',
        newValues: { is_verified: true },
      },
    );
    await recordSecurityEvent(transaction, context, {
      type: 'EMAIL_VERIFIED',
      userId,
      description: 'The email address was verified through its link.',
    });
  });
}

/** POST /v1/auth/password/forgot: always the same answer; a link goes out only to an existing account. */
export async function forgotPassword(
  services: EmailServices,
  context: AuditContext,
  emailInput: string,
): Promise<void> {
  const email = emailInput.toLowerCase();
  // Counted for every address, with or without an account, so a 429 does not tell which exist.
  await reserveEmailSend(attemptServices(services), context, email);
  const token = await withScope(services.database.db, { tenantId: context.tenantId }, async (transaction) => {
    const user = await findLiveUserByEmail(transaction, email);
    if (!user) return undefined;
    const issued = await issueToken(
      transaction,
      services.config,
      context.tenantId,
      user.id,
      'password_reset',
    );
    const isStaff = staffRoles.includes(user.role as 'admin');
    await recordAudit(
      transaction,
      isStaff ? { ...context, adminId: user.id } : { ...context, userId: user.id },
      {
        entityType: 'user',
        entityId: user.id,
        action: 'REQUEST_PASSWORD_RESET',
      },
    );
    return issued;
  });
  if (token) {
    const minutes = services.config.authentication.passwordResetTtlMinutes;
    await services.messages.sendEmail(
      email,
      'Reset your Corebank password',
      `Reset your password within ${minutes} minutes: ${accountLinkBase}/reset-password?token=${token}`,
    );
  }
}

async function setPassword(
  transaction: ScopedTransaction,
  config: Config,
  userId: string,
  role: string,
  passwordHash: string,
): Promise<void> {
  const isStaff = staffRoles.includes(role as 'admin');
  // A staff password expires (seed 000); a customer's does not.
  await updatePassword(
    transaction,
    userId,
    passwordHash,
    isStaff ? config.authentication.staffPasswordMaxAgeDays : undefined,
  );
}

/** POST /v1/auth/password/reset: sets the password and ends every session of the account. */
export async function resetPassword(
  services: EmailServices,
  context: AuditContext,
  token: string,
  newPassword: string,
): Promise<void> {
  assertPasswordPolicy(newPassword, 'body.new_password');
  const passwordHash = await hashPassword(newPassword);
  await withScope(services.database.db, { tenantId: context.tenantId }, async (transaction) => {
    await assertTenantActive(transaction, context.tenantId);
    const userId = await consumeToken(transaction, services.config, token, 'password_reset');
    const user = await findUserRoleAndEmail(transaction, userId);
    assertPasswordPolicy(newPassword, 'body.new_password', user.email ?? undefined);
    await setPassword(transaction, services.config, userId, user.role, passwordHash);
    await endSessions(transaction, {
      tenantId: context.tenantId,
      userId,
      reason: 'password_changed',
      context,
    });
    const isStaff = staffRoles.includes(user.role as 'admin');
    await recordAudit(transaction, isStaff ? { ...context, adminId: userId } : { ...context, userId }, {
      entityType: 'user',
      entityId: userId,
      action: 'RESET_PASSWORD',
      newValues: { password_changed: true },
    });
    await recordCredentialChange(transaction, context, {
      type: 'PASSWORD_CHANGED',
      userId,
      description: 'The password was reset through an emailed link; every session was ended.',
      details: { via: 'reset_link' },
    });
  });
}

export interface PasswordChange {
  current_password: string;
  new_password: string;
  end_other_sessions: boolean;
}

/**
 * POST /v1/me/password: a wrong current password counts as a failed login attempt, reserved before the
 * password is verified like every credential check (login-attempts.ts).
 */
export async function changePassword(
  services: EmailServices,
  principal: Principal,
  context: AuditContext,
  change: PasswordChange,
): Promise<number> {
  const { config } = services;
  const user = await withScope(services.database.db, scopeOf(principal), (transaction) =>
    findPasswordCredential(transaction, principal.userId),
  );
  // The new password's rules need no secret, so they are checked before an attempt is spent.
  assertPasswordPolicy(change.new_password, 'body.new_password', user.email ?? undefined);
  if (change.new_password === change.current_password) {
    throw new AppError('WEAK_PASSWORD', undefined, [
      { field: 'body.new_password', reason: 'must differ from the current password' },
    ]);
  }
  const attempt = {
    context,
    userId: user.id,
    loginType: principal.isStaff ? ('admin_login' as const) : ('user_login' as const),
    method: 'password' as const,
  };
  const matches =
    user.password_hash !== null && (await verifyPassword(user.password_hash, change.current_password));
  const decided = await decideAttempt(
    attemptServices(services),
    attempt,
    { userId: user.id },
    () => matches,
    false,
  );
  if (!decided.right) {
    await recordFailureAlone(attemptServices(services), decided, 'password_change_wrong_current');
    throw new AppError('INVALID_CREDENTIALS');
  }
  const passwordHash = await hashPassword(change.new_password);
  return withScope(services.database.db, scopeOf(principal), async (transaction) => {
    await setPassword(transaction, config, user.id, user.role, passwordHash);
    const ended = change.end_other_sessions
      ? await endSessions(transaction, {
          tenantId: principal.tenantId,
          userId: user.id,
          reason: 'password_changed',
          exceptSessionId: principal.sessionId,
          context,
        })
      : [];
    await recordAudit(transaction, context, {
      entityType: 'user',
      entityId: user.id,
      action: 'CHANGE_PASSWORD',
      newValues: { password_changed: true, other_sessions_ended: ended.length },
    });
    await recordCredentialChange(transaction, context, {
      type: 'PASSWORD_CHANGED',
      userId: user.id,
      description: 'The password was changed by its owner.',
      details: { via: 'current_password', other_sessions_ended: ended.length },
    });
    return ended.length;
  });
}
