import type { Kysely } from 'kysely';
import type { Config } from '../../config/config.ts';
import type { Database, LoginStatus, LoginType } from '../../db/schema.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import type { AuthenticationConfig } from '../../platform/auth/authentication-config.ts';
import { AppError, type ErrorCode, errorCatalog } from '../../platform/errors.ts';
import { assessSignals, recordSecurityEvent } from '../security-events/security-events.service.ts';
import type { SecuritySignals } from '../security-events/security-scores.ts';
import { hashSecretToken } from './credential-hashing.ts';
import {
  countAccountFailure,
  findTenantStatus,
  insertLoginAudit,
  type LockPolicy,
  lockAccountForAttempt,
  lowerTrustScore,
  settleAccountSuccess,
} from './login-attempts.repository.ts';
import { type CounterKey, lockFullCounter, reserveCounter } from './security-counters.repository.ts';

/**
 * Attempt limits and the login record (seeds 000, 003, 004).
 *
 * Every credential check (PIN, OTP, password, TOTP, backup code, re-authentication) is *decided* in
 * one transaction that holds the row locks of what it counts against, and commits with the verdict:
 *
 * 1. the client address's counter row and then the account's row (or the unknown identifier's counter
 *    row) are locked (`SELECT … FOR UPDATE`); a full address window or a locked account refuses the
 *    attempt without evaluating anything;
 * 2. the credential's verdict is taken (the slow argon2 hash may be computed before, outside the lock:
 *    the answer still depends on it only through this step);
 * 3. a wrong credential is counted in that same transaction — the account's count, locking it at the
 *    threshold, the address's and the unknown identifier's unit — and committed before anything else
 *    the request does can fail; a right one counts nothing.
 *
 * Concurrent checks of one account queue on its row lock and each sees every earlier committed
 * failure, so a burst of N wrong guesses gets at most the threshold answered by their verdict (the
 * rest are refused as locked), a right guess behind the threshold is refused, and a burst of right
 * credentials is never locked out by checks still in flight (issue 7 follow-up: attempts reserved
 * before verification counted as failures until they finished).
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

/** What the check of one credential decided and counted. */
export interface DecidedAttempt {
  attempt: LoginAttempt;
  right: boolean;
  /** ownLock: the lock this failure set by reaching the threshold (null when it did not). */
  account?: { userId: string; attemptNumber: number; ownLock: Date | null; lockoutCount: number } | undefined;
  unknown?: { attemptNumber: number } | undefined;
}

/** The verdict on the credential, taken under the row locks (`transaction` for checks that need it). */
export type CredentialCheck = (transaction: ScopedTransaction) => boolean | Promise<boolean>;

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

/** A refusal found inside the deciding transaction; thrown so that it rolls back. */
export class AttemptRefused extends Error {
  constructor(
    readonly reason: 'ip_blocked' | 'account_locked',
    readonly retryAfterSeconds?: number,
  ) {
    super(reason);
  }
}

/**
 * Decides one credential check in a transaction of its own (see the top of this file): the address
 * (unless `countAddress` is false: re-authentication of a signed-in user) and the subject are locked,
 * the check runs, a failure is counted, and all of it commits. A refusal is recorded and thrown:
 * TOO_MANY_ATTEMPTS (429, Retry-After) for the address, ACCOUNT_LOCKED for the account.
 */
export async function decideAttempt(
  services: AttemptServices,
  attempt: LoginAttempt,
  subject: SubjectSource,
  check: CredentialCheck,
  countAddress = true,
): Promise<DecidedAttempt> {
  try {
    return await withScope(services.db, { tenantId: attempt.context.tenantId }, (transaction) =>
      decideAttemptIn(transaction, services.config, attempt, subject, check, countAddress),
    );
  } catch (error) {
    throw await answerRefusal(services, attempt, error);
  }
}

/**
 * Records a refusal thrown by `decideAttemptIn` (after its transaction rolled back) and returns the
 * error to answer with; any other error is returned as it is.
 */
export async function answerRefusal(
  services: AttemptServices,
  attempt: LoginAttempt,
  error: unknown,
): Promise<unknown> {
  if (!(error instanceof AttemptRefused)) return error;
  await withScope(services.db, { tenantId: attempt.context.tenantId }, (transaction) =>
    recordLoginBlocked(transaction, services.config, attempt, error.reason),
  );
  if (error.reason === 'account_locked') return new AppError('ACCOUNT_LOCKED');
  return new AppError('TOO_MANY_ATTEMPTS', undefined, undefined, {
    retryAfterSeconds: error.retryAfterSeconds,
  });
}

function addressKey(config: Config, attempt: LoginAttempt, countAddress: boolean): CounterKey | undefined {
  const { tenantId, ipAddress } = attempt.context;
  if (!countAddress || !ipAddress) return undefined;
  return {
    tenantId,
    scope: 'login_address_failures',
    subjectHash: counterSubjectHash(config, 'address', ipAddress),
  };
}

/**
 * `decideAttempt` inside the caller's transaction, which must not hold a user row lock yet (lock
 * order: an address counter row, then a token row, then a user row). Throws AttemptRefused, which must
 * roll the transaction back; a wrong verdict is counted in it, so the caller must commit it.
 */
export async function decideAttemptIn(
  transaction: ScopedTransaction,
  config: Config,
  attempt: LoginAttempt,
  source: SubjectSource,
  check: CredentialCheck,
  countAddress: boolean,
): Promise<DecidedAttempt> {
  const authentication = config.authentication;
  const { tenantId } = attempt.context;
  await assertTenantActive(transaction, tenantId);
  const address = addressKey(config, attempt, countAddress);
  const addressLimit = {
    max: authentication.ipFailuresMax,
    windowSeconds: authentication.ipFailureWindowMinutes * 60,
  };
  if (address) {
    const full = await lockFullCounter(transaction, address, addressLimit);
    if (full) throw new AttemptRefused('ip_blocked', full.retryAfterSeconds);
  }
  const subject = typeof source === 'function' ? await source(transaction) : source;
  const unknownKey: CounterKey | undefined =
    subject && 'unknownIdentifier' in subject
      ? { tenantId, scope: 'login_unknown_identifier', subjectHash: subject.unknownIdentifier }
      : undefined;
  const unknownLimit = {
    max: authentication.lockoutThreshold,
    windowSeconds: authentication.lockoutBaseMinutes * 60,
  };
  if (subject && 'userId' in subject && (await lockAccountForAttempt(transaction, tenantId, subject.userId)))
    throw new AttemptRefused('account_locked');
  if (unknownKey && (await lockFullCounter(transaction, unknownKey, unknownLimit)))
    throw new AttemptRefused('account_locked');
  const decided: DecidedAttempt = { attempt, right: await check(transaction) };
  if (decided.right) return decided;
  // A wrong credential: counted here, under the locks taken above, and committed with the verdict.
  if (address) {
    const taken = await reserveCounter(transaction, address, addressLimit);
    if (!taken.granted) throw new AttemptRefused('ip_blocked', taken.retryAfterSeconds);
  }
  if (subject && 'userId' in subject) {
    const row = await countAccountFailure(transaction, tenantId, subject.userId, lockPolicy(authentication));
    if (!row) throw new AttemptRefused('account_locked');
    decided.account = {
      userId: subject.userId,
      attemptNumber: row.attempt_number,
      ownLock: row.locked_until,
      lockoutCount: row.lockout_count,
    };
  } else if (unknownKey) {
    const taken = await reserveCounter(transaction, unknownKey, unknownLimit);
    if (!taken.granted) throw new AttemptRefused('account_locked');
    decided.unknown = { attemptNumber: taken.count };
  }
  return decided;
}

/** Text PostgreSQL refuses in jsonb (NUL, unpaired surrogates), replaced so the login record is always writable. */
function storable(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  return value
    .replaceAll(String.fromCharCode(0), '\ufffd')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/**
 * What a refused attempt answers (its audit row's status_code): the callers throw these codes after
 * the record is written — ACCOUNT_LOCKED once the failure locked the account, except where a wrong
 * current credential of a signed-in user is always INVALID_CREDENTIALS.
 */
const failureCodes: Record<string, ErrorCode> = {
  mfa_invalid: 'MFA_INVALID',
  otp_invalid: 'OTP_INVALID',
  login_token_invalid: 'LOGIN_TOKEN_INVALID',
  registration_conflict: 'LOGIN_TOKEN_INVALID',
};
const lockNotAnswered = new Set(['password_change_wrong_current', 'reauthentication_failed']);
const blockedCodes: Record<BlockReason, ErrorCode> = {
  account_locked: 'ACCOUNT_LOCKED',
  ip_blocked: 'TOO_MANY_ATTEMPTS',
  account_inactive: 'ACCOUNT_INACTIVE',
  account_blocked: 'ACCOUNT_BLOCKED',
};

function failureStatus(reason: string, locked: boolean): number {
  const code =
    locked && !lockNotAnswered.has(reason)
      ? 'ACCOUNT_LOCKED'
      : (failureCodes[reason] ?? 'INVALID_CREDENTIALS');
  return errorCatalog[code].status;
}

interface LoginRecord {
  status: LoginStatus;
  failureReason?: string | undefined;
  attemptNumber?: number | undefined;
  /** The status the request answers with; the context's (the route's success status) when absent. */
  statusCode?: number | undefined;
}

async function writeLoginRecord(
  transaction: ScopedTransaction,
  attempt: LoginAttempt,
  record: LoginRecord,
): Promise<void> {
  const { status, failureReason, attemptNumber } = record;
  const isAdmin = attempt.loginType === 'admin_login' || attempt.loginType === 'admin_logout';
  const deviceInfo = Object.fromEntries(
    Object.entries({ method: attempt.method, ...(attempt.deviceInfo ?? {}) }).map(([key, value]) => [
      key,
      storable(value),
    ]),
  );
  if (attemptNumber !== undefined) deviceInfo.attempt = attemptNumber;
  // The keyed fingerprint hash and the country: what the next event's "known device / country" probes.
  // The coordinates and their accuracy: what the impossible-travel rule measures between two logins.
  if (attempt.context.deviceFingerprint) deviceInfo.device_fingerprint = attempt.context.deviceFingerprint;
  const location = attempt.context.location;
  if (location) {
    deviceInfo.country = location.country;
    deviceInfo.latitude = location.latitude;
    deviceInfo.longitude = location.longitude;
    deviceInfo.accuracy_radius_km = location.accuracyRadiusKm;
  }
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
    statusCode: record.statusCode,
  });
}

function attemptNumberOf(reserved: DecidedAttempt): number | undefined {
  return reserved.account?.attemptNumber ?? reserved.unknown?.attemptNumber;
}

/**
 * The credential was wrong. The failure is already counted and committed; this writes the login record and, when
 * this attempt was the one that locked the account, the lock's security event and audit row. Returns
 * whether the account (or the unknown identifier) is now locked.
 */
export async function recordFailure(
  transaction: ScopedTransaction,
  config: Config,
  reserved: DecidedAttempt,
  reason: string,
): Promise<boolean> {
  const attempt = reserved.attempt;
  const account = reserved.account;
  const locked = reserved.unknown
    ? reserved.unknown.attemptNumber >= config.authentication.lockoutThreshold
    : account?.ownLock != null;
  // The signals are read before this failure's own record, so it is not among "recent failures".
  const signals = await assessSignals(transaction, attempt.context, attempt.userId);
  await writeLoginRecord(transaction, attempt, {
    status: 'failed',
    failureReason: reason,
    attemptNumber: attemptNumberOf(reserved),
    statusCode: failureStatus(reason, locked),
  });
  await recordSecurityEvent(transaction, attempt.context, {
    type: 'USER_LOGIN_FAILED',
    userId: attempt.userId,
    description: `A ${attempt.method.replace('_', ' ')} check failed (${reason}).`,
    details: { method: attempt.method, failure_reason: reason, attempt: attemptNumberOf(reserved) ?? null },
    signals,
    attackVector: attempt.method,
  });
  if (account?.ownLock) await recordLock(transaction, config, attempt, account, signals);
  return locked;
}

/** recordFailure in a transaction of its own. */
export async function recordFailureAlone(
  services: AttemptServices,
  reserved: DecidedAttempt,
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
  signals: SecuritySignals,
): Promise<void> {
  const lockedUntil = account.ownLock;
  if (lockedUntil === null) return;
  const minutes = Math.round((lockedUntil.getTime() - Date.now()) / 60_000);
  await lowerTrustScore(transaction, attempt.context.tenantId, account.userId);
  await recordSecurityEvent(transaction, attempt.context, {
    type: 'ACCOUNT_LOCKED',
    userId: account.userId,
    severity: account.lockoutCount > 1 ? 'high' : 'medium',
    threatType: 'brute_force',
    description: `Account locked for ${minutes} minutes after ${config.authentication.lockoutThreshold} failed attempts.`,
    details: { method: attempt.method, lockout_count: account.lockoutCount, minutes },
    signals,
    attackVector: attempt.method,
    detectionMethod: 'rule_based',
  });
  await recordAudit(transaction, attempt.context, {
    entityType: 'user',
    entityId: account.userId,
    action: 'LOCK',
    eventType: 'SECURITY',
    eventStatus: 'BLOCKED',
    newValues: { lockout_count: account.lockoutCount, locked_minutes: minutes },
    riskScore: 70,
    statusCode: errorCatalog.ACCOUNT_LOCKED.status,
  });
}

/** The credential was right but the account may not log in: recorded as blocked (nothing was counted). */
export async function recordRefusedAfterCheck(
  transaction: ScopedTransaction,
  config: Config,
  decided: DecidedAttempt,
  reason: BlockReason,
): Promise<void> {
  await recordLoginBlocked(transaction, config, decided.attempt, reason);
}

/**
 * A login succeeded: the account's count starts again and the login is recorded with its security
 * event, in the transaction that opens the session. Returns the signals the event was scored on (read
 * before this login's own record), for the session's event.
 */
export async function settleSuccess(
  transaction: ScopedTransaction,
  decided: DecidedAttempt,
  userId: string,
): Promise<SecuritySignals> {
  const { context } = decided.attempt;
  const signals = await assessSignals(transaction, context, userId);
  await settleAccountSuccess(transaction, context.tenantId, userId, context.ipAddress);
  await writeLoginRecord(transaction, { ...decided.attempt, userId }, { status: 'success' });
  await recordSecurityEvent(transaction, context, {
    type: 'USER_LOGIN_SUCCESS',
    userId,
    description: `Logged in (${decided.attempt.method.replace('_', ' ')}).`,
    details: { method: decided.attempt.method },
    signals,
  });
  return signals;
}

/** A logout is recorded too (seed 000 login_type user_logout / admin_logout). */
export async function recordLogout(
  transaction: ScopedTransaction,
  attempt: LoginAttempt & { userId: string },
): Promise<void> {
  await writeLoginRecord(transaction, attempt, { status: 'success' });
}

/** An attempt refused without checking credentials (or refused after them): recorded as blocked. */
export async function recordLoginBlocked(
  transaction: ScopedTransaction,
  config: Config,
  attempt: LoginAttempt,
  reason: BlockReason,
): Promise<void> {
  await writeLoginRecord(transaction, attempt, {
    status: 'blocked',
    failureReason: reason,
    statusCode: errorCatalog[blockedCodes[reason]].status,
  });
  // A blocked address writes one event per window (below), not one per refused attempt of a flood.
  if (reason === 'ip_blocked') return recordAddressBlocked(transaction, config, attempt);
  await recordSecurityEvent(transaction, attempt.context, {
    type: 'USER_LOGIN_FAILED',
    userId: attempt.userId,
    description: `A login was refused without a session (${reason}).`,
    details: { method: attempt.method, failure_reason: reason },
    actionTaken: reason === 'account_locked' ? 'lock' : 'deny',
    attackVector: attempt.method,
  });
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
  await recordSecurityEvent(transaction, attempt.context, {
    type: 'LOGIN_IP_BLOCKED',
    // An address's event, whoever it tried.
    userId: undefined,
    threatType: 'brute_force',
    description: 'Too many failed logins from this address; further attempts are refused for the window.',
    details: { method: attempt.method },
    attackVector: attempt.method,
    detectionMethod: 'rule_based',
  });
}
