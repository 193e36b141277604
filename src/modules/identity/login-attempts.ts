import type { Kysely } from 'kysely';
import type { Config } from '../../config/config.ts';
import type { Database, LoginStatus, LoginType } from '../../db/schema.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import type { AuthenticationConfig } from '../../platform/auth/authentication-config.ts';
import { AppError } from '../../platform/errors.ts';
import { hashSecretToken } from './credential-hashing.ts';
import {
  findTenantStatus,
  insertLoginAudit,
  insertSecurityEvent,
  type LockPolicy,
  lowerTrustScore,
  releaseAccountAttempt,
  reserveAccountAttempt,
  settleAccountSuccess,
} from './login-attempts.repository.ts';
import { type CounterKey, releaseCounter, reserveCounter } from './security-counters.repository.ts';

/**
 * Attempt limits and the login record (seeds 000, 003, 004).
 *
 * Every credential check (PIN, OTP, password, TOTP, backup code, re-authentication) first *reserves*
 * an attempt, in its own committed transaction, before the credential is evaluated:
 *
 * - per account: one conditional UPDATE of the user row (`reserveAccountAttempt`) that counts the
 *   attempt and refuses when the account is locked; the attempt that reaches the threshold locks the
 *   account in that same statement;
 * - per client address, and per unknown login identifier: one conditional upsert of a counter row
 *   (`security-counters.repository.ts`).
 *
 * So a burst of parallel guesses gets at most the threshold evaluated (the row lock orders them), and
 * a failure is already counted when anything later in the request fails: the only thing left to do
 * after a wrong credential is to write the login record. A right credential gives its reservation back
 * (`settleSuccess` or `releaseAttempt` for the account, `releaseAddress` for the client address).
 */
export interface LoginAttempt {
  context: AuditContext;
  userId: string | undefined;
  loginType: LoginType;
  method: 'banking_pin' | 'banking_otp' | 'password' | 'totp' | 'backup_code' | 'refresh';
  deviceInfo?: Record<string, unknown> | undefined;
}

/** Who an attempt counts against besides the client address. */
export type AttemptSubject = { userId: string } | { unknownIdentifier: string } | undefined;

/** The subject, or a step of the reservation transaction that finds it (and may reserve more). */
export type SubjectSource = AttemptSubject | ((transaction: ScopedTransaction) => Promise<AttemptSubject>);

export interface ReservedAttempt {
  attempt: LoginAttempt;
  address?: { key: CounterKey; windowStartedAt: Date } | undefined;
  /** ownLock: the lock this attempt set by reaching the threshold (null when it did not). */
  account?: { userId: string; attemptNumber: number; ownLock: Date | null; lockoutCount: number } | undefined;
  unknown?: { attemptNumber: number } | undefined;
}

export type BlockReason = 'account_locked' | 'ip_blocked' | 'account_inactive' | 'account_blocked';

/** One security event per blocked address and window, not one per refused attempt. */
const addressBlockedEventWindowSeconds = 15 * 60;

export interface AttemptServices {
  db: Kysely<Database>;
  config: Config;
}

function lockPolicy(authentication: AuthenticationConfig): LockPolicy {
  return {
    threshold: authentication.lockoutThreshold,
    baseMinutes: authentication.lockoutBaseMinutes,
    maxMinutes: authentication.lockoutMaxMinutes,
  };
}

/** The keyed hash a counter knows its subject by (a phone, an email address, a client address). */
export function counterSubjectHash(config: Config, kind: string, value: string): string {
  return hashSecretToken(`security-counter:${kind}:${value}`, config.secretTokenKey);
}

/** The keyed identifier an unknown email counts under (also written to its login records). */
export function unknownIdentifier(config: Config, email: string): string {
  return hashSecretToken(`login-identifier:${email.toLowerCase()}`, config.secretTokenKey);
}

/** Refuses with TENANT_SUSPENDED inside the caller's transaction (the resolver's cache may be older). */
export async function assertTenantActive(transaction: ScopedTransaction, tenantId: string): Promise<void> {
  const status = await findTenantStatus(transaction, tenantId);
  if (status === 'suspended') throw new AppError('TENANT_SUSPENDED');
  if (status !== 'active') throw new AppError('TENANT_NOT_FOUND');
}

/** A refusal found inside the reservation transaction; thrown to roll back what it had reserved. */
class AttemptRefused extends Error {
  constructor(
    readonly reason: 'ip_blocked' | 'account_locked',
    readonly retryAfterSeconds?: number,
  ) {
    super(reason);
  }
}

/**
 * Reserves one attempt for the client address (unless `countAddress` is false: re-authentication of
 * a signed-in user) and for the subject, all or nothing, and commits. A refusal is recorded and thrown:
 * TOO_MANY_ATTEMPTS (429, Retry-After) for the address, ACCOUNT_LOCKED for the account.
 */
export async function reserveAttempt(
  services: AttemptServices,
  attempt: LoginAttempt,
  subject: SubjectSource,
  countAddress = true,
): Promise<ReservedAttempt> {
  const scope = { tenantId: attempt.context.tenantId };
  try {
    return await withScope(services.db, scope, (transaction) =>
      reserveIn(transaction, services.config, attempt, subject, countAddress),
    );
  } catch (error) {
    if (!(error instanceof AttemptRefused)) throw error;
    await withScope(services.db, scope, (transaction) =>
      recordLoginBlocked(transaction, services.config, attempt, error.reason),
    );
    if (error.reason === 'account_locked') throw new AppError('ACCOUNT_LOCKED');
    throw new AppError('TOO_MANY_ATTEMPTS', undefined, undefined, {
      retryAfterSeconds: error.retryAfterSeconds,
    });
  }
}

async function reserveIn(
  transaction: ScopedTransaction,
  config: Config,
  attempt: LoginAttempt,
  source: SubjectSource,
  countAddress: boolean,
): Promise<ReservedAttempt> {
  const authentication = config.authentication;
  const { tenantId, ipAddress } = attempt.context;
  await assertTenantActive(transaction, tenantId);
  const reserved: ReservedAttempt = { attempt };
  if (countAddress && ipAddress) {
    const key: CounterKey = {
      tenantId,
      scope: 'login_address_failures',
      subjectHash: counterSubjectHash(config, 'address', ipAddress),
    };
    const taken = await reserveCounter(transaction, key, {
      max: authentication.ipFailuresMax,
      windowSeconds: authentication.ipFailureWindowMinutes * 60,
    });
    if (!taken.granted) throw new AttemptRefused('ip_blocked', taken.retryAfterSeconds);
    reserved.address = { key, windowStartedAt: taken.windowStartedAt };
  }
  const subject = typeof source === 'function' ? await source(transaction) : source;
  if (subject && 'userId' in subject) {
    const row = await reserveAccountAttempt(
      transaction,
      tenantId,
      subject.userId,
      lockPolicy(authentication),
    );
    if (!row) throw new AttemptRefused('account_locked');
    reserved.account = {
      userId: subject.userId,
      attemptNumber: row.attempt_number,
      ownLock: row.locked_until,
      lockoutCount: row.lockout_count,
    };
  } else if (subject) {
    const taken = await reserveCounter(
      transaction,
      { tenantId, scope: 'login_unknown_identifier', subjectHash: subject.unknownIdentifier },
      { max: authentication.lockoutThreshold, windowSeconds: authentication.lockoutBaseMinutes * 60 },
    );
    if (!taken.granted) throw new AttemptRefused('account_locked');
    reserved.unknown = { attemptNumber: taken.count };
  }
  return reserved;
}

/** Text PostgreSQL refuses in jsonb (NUL, unpaired surrogates), replaced so the login record is always writable. */
function storable(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  return value
    .replaceAll(String.fromCharCode(0), '\ufffd')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

async function writeLoginRecord(
  transaction: ScopedTransaction,
  attempt: LoginAttempt,
  status: LoginStatus,
  failureReason: string | undefined,
  attemptNumber?: number,
): Promise<void> {
  const isAdmin = attempt.loginType === 'admin_login' || attempt.loginType === 'admin_logout';
  const deviceInfo = Object.fromEntries(
    Object.entries({ method: attempt.method, ...(attempt.deviceInfo ?? {}) }).map(([key, value]) => [
      key,
      storable(value),
    ]),
  );
  if (attemptNumber !== undefined) deviceInfo.attempt = attemptNumber;
  await insertLoginAudit(transaction, {
    tenant_id: attempt.context.tenantId,
    user_id: isAdmin ? null : (attempt.userId ?? null),
    admin_id: isAdmin ? (attempt.userId ?? null) : null,
    login_type: attempt.loginType,
    status,
    ip_address: attempt.context.ipAddress ?? null,
    user_agent: attempt.context.userAgent?.slice(0, 255) ?? null,
    device_info: JSON.stringify(deviceInfo),
    failure_reason: failureReason ?? null,
  });
  await recordAudit(transaction, attempt.context, {
    entityType: 'user',
    entityId: attempt.userId ?? 'unknown',
    action: attempt.loginType.endsWith('logout') ? 'LOGOUT' : 'LOGIN',
    eventType: 'AUTHENTICATION',
    eventStatus: status === 'success' ? 'SUCCESS' : status === 'failed' ? 'FAILED' : 'BLOCKED',
    details: { method: attempt.method, ...(failureReason ? { failure_reason: failureReason } : {}) },
    riskScore: status === 'success' ? 0 : status === 'failed' ? 20 : 60,
  });
}

function attemptNumberOf(reserved: ReservedAttempt): number | undefined {
  return reserved.account?.attemptNumber ?? reserved.unknown?.attemptNumber;
}

/**
 * The credential was wrong. The attempt is already counted; this writes the login record and, when
 * this attempt was the one that locked the account, the lock's security event and audit row. Returns
 * whether the account (or the unknown identifier) is now locked.
 */
export async function recordFailure(
  transaction: ScopedTransaction,
  config: Config,
  reserved: ReservedAttempt,
  reason: string,
): Promise<boolean> {
  const attempt = reserved.attempt;
  await writeLoginRecord(transaction, attempt, 'failed', reason, attemptNumberOf(reserved));
  if (reserved.unknown) return reserved.unknown.attemptNumber >= config.authentication.lockoutThreshold;
  const account = reserved.account;
  if (!account?.ownLock) return false;
  await recordLock(transaction, config, reserved.attempt, account);
  return true;
}

/** recordFailure in a transaction of its own. */
export async function recordFailureAlone(
  services: AttemptServices,
  reserved: ReservedAttempt,
  reason: string,
): Promise<boolean> {
  return withScope(services.db, { tenantId: reserved.attempt.context.tenantId }, (transaction) =>
    recordFailure(transaction, services.config, reserved, reason),
  );
}

async function recordLock(
  transaction: ScopedTransaction,
  config: Config,
  attempt: LoginAttempt,
  account: { userId: string; ownLock: Date | null; lockoutCount: number },
): Promise<void> {
  const lockedUntil = account.ownLock;
  if (lockedUntil === null) return;
  const minutes = Math.round((lockedUntil.getTime() - Date.now()) / 60_000);
  await lowerTrustScore(transaction, attempt.context.tenantId, account.userId);
  await insertSecurityEvent(transaction, {
    tenant_id: attempt.context.tenantId,
    user_id: account.userId,
    event_type: 'ACCOUNT_LOCKED',
    event_category: 'authentication',
    severity: account.lockoutCount > 1 ? 'high' : 'medium',
    threat_type: 'brute_force',
    ip_address: attempt.context.ipAddress ?? null,
    user_agent: attempt.context.userAgent ?? null,
    description: `Account locked for ${minutes} minutes after ${config.authentication.lockoutThreshold} failed attempts.`,
    details: JSON.stringify({ method: attempt.method, lockout_count: account.lockoutCount, minutes }),
    attack_vector: attempt.method,
    detection_method: 'rule_based',
    action_taken: 'lock',
  });
  await recordAudit(transaction, attempt.context, {
    entityType: 'user',
    entityId: account.userId,
    action: 'LOCK',
    eventType: 'SECURITY',
    eventStatus: 'BLOCKED',
    newValues: { lockout_count: account.lockoutCount, locked_minutes: minutes },
    riskScore: 70,
  });
}

/**
 * The credential was right but no session follows (step one of the banking login, a staff login still
 * missing its second factor, a re-authentication): the account's attempt is given back. The address's
 * reservation is given back separately (`releaseAddress`).
 */
export async function releaseAttempt(
  transaction: ScopedTransaction,
  reserved: ReservedAttempt,
): Promise<void> {
  if (reserved.account) {
    await releaseAccountAttempt(
      transaction,
      reserved.attempt.context.tenantId,
      reserved.account.userId,
      reserved.account.ownLock,
    );
  }
}

/**
 * Gives back the client address's reservation of an attempt that did not fail, in a short transaction
 * of its own. An address counter row is only ever locked first in a transaction or alone, never after
 * a user or token row: with one lock order there is no deadlock between a login finishing and the next
 * one reserving, and logins sharing an address never wait on each other for longer than one statement.
 */
export async function releaseAddress(services: AttemptServices, reserved: ReservedAttempt): Promise<void> {
  const address = reserved.address;
  if (!address) return;
  await withScope(services.db, { tenantId: reserved.attempt.context.tenantId }, (transaction) =>
    releaseCounter(transaction, address.key, address.windowStartedAt),
  );
}

/** The credential was right but the account may not log in: given back, and recorded as blocked. */
export async function recordRefusedAfterCheck(
  transaction: ScopedTransaction,
  config: Config,
  reserved: ReservedAttempt,
  reason: BlockReason,
): Promise<void> {
  await releaseAttempt(transaction, reserved);
  await recordLoginBlocked(transaction, config, reserved.attempt, reason);
}

/**
 * A login succeeded: the account's count starts again and the login is recorded, in the transaction
 * that opens the session. The caller gives the address's reservation back after it commits.
 */
export async function settleSuccess(
  transaction: ScopedTransaction,
  reserved: ReservedAttempt,
  userId: string,
): Promise<void> {
  const { context } = reserved.attempt;
  await settleAccountSuccess(
    transaction,
    context.tenantId,
    userId,
    reserved.account?.ownLock ?? null,
    context.ipAddress,
  );
  await writeLoginRecord(transaction, { ...reserved.attempt, userId }, 'success', undefined);
}

/** A logout is recorded too (seed 000 login_type user_logout / admin_logout). */
export async function recordLogout(
  transaction: ScopedTransaction,
  attempt: LoginAttempt & { userId: string },
): Promise<void> {
  await writeLoginRecord(transaction, attempt, 'success', undefined);
}

/** An attempt refused without checking credentials (or refused after them): recorded as blocked. */
export async function recordLoginBlocked(
  transaction: ScopedTransaction,
  config: Config,
  attempt: LoginAttempt,
  reason: BlockReason,
): Promise<void> {
  await writeLoginRecord(transaction, attempt, 'blocked', reason);
  if (reason === 'ip_blocked') await recordAddressBlocked(transaction, config, attempt);
}

/** The first refusal of an address in a window writes a security event; a counter decides which is first. */
async function recordAddressBlocked(
  transaction: ScopedTransaction,
  config: Config,
  attempt: LoginAttempt,
): Promise<void> {
  const ipAddress = attempt.context.ipAddress;
  if (!ipAddress) return;
  const first = await reserveCounter(
    transaction,
    {
      tenantId: attempt.context.tenantId,
      scope: 'login_address_blocked_event',
      subjectHash: counterSubjectHash(config, 'address', ipAddress),
    },
    { max: 1, windowSeconds: addressBlockedEventWindowSeconds },
  );
  if (!first.granted) return;
  await insertSecurityEvent(transaction, {
    tenant_id: attempt.context.tenantId,
    event_type: 'LOGIN_IP_BLOCKED',
    event_category: 'authentication',
    severity: 'high',
    threat_type: 'brute_force',
    ip_address: ipAddress,
    user_agent: attempt.context.userAgent ?? null,
    description: 'Too many failed logins from this address; further attempts are refused for the window.',
    details: JSON.stringify({ method: attempt.method }),
    attack_vector: attempt.method,
    detection_method: 'rule_based',
    action_taken: 'block',
  });
}
