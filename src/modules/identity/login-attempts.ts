import { sql } from 'kysely';
import type { LoginStatus, LoginType } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import type { AuthenticationConfig } from '../../platform/auth/authentication-config.ts';

/**
 * Lockout and the login record (seeds 000, 003, 004). Every attempt writes one login_audits row and one
 * hash-chained audit row; failures count per account (PIN, password, OTP and backup code alike) and
 * per IP address; the account locks progressively: threshold failures → base minutes, doubling with
 * every further lockout, up to the maximum.
 */
export interface LoginAttempt {
  context: AuditContext;
  userId: string | undefined;
  loginType: LoginType;
  method: 'banking_pin' | 'banking_otp' | 'password' | 'totp' | 'backup_code' | 'refresh';
  deviceInfo?: Record<string, unknown> | undefined;
}

export interface LockableUser {
  id: string;
  failed_login_attempts: number;
  lockout_count: number;
  locked_until: Date | null;
}

export function isLocked(user: Pick<LockableUser, 'locked_until'>, now = new Date()): boolean {
  return user.locked_until !== null && user.locked_until.getTime() > now.getTime();
}

export function lockoutMinutes(config: AuthenticationConfig, lockoutCount: number): number {
  const doubled = config.lockoutBaseMinutes * 2 ** Math.min(lockoutCount, 20);
  return Math.min(doubled, config.lockoutMaxMinutes);
}

/** Failed attempts from this IP address in the window, across all accounts of the tenant. */
export async function ipFailureCount(
  transaction: ScopedTransaction,
  config: AuthenticationConfig,
  ipAddress: string | undefined,
): Promise<number> {
  if (!ipAddress) return 0;
  const row = await transaction
    .selectFrom('login_audits')
    .select((eb) => eb.fn.countAll<string>().as('failures'))
    .where('ip_address', '=', ipAddress)
    .where('status', '=', 'failed')
    .where('created_at', '>', sql<Date>`now() - make_interval(mins => ${config.ipFailureWindowMinutes})`)
    .executeTakeFirst();
  return Number(row?.failures ?? 0);
}

async function writeLoginRecord(
  transaction: ScopedTransaction,
  attempt: LoginAttempt,
  status: LoginStatus,
  failureReason: string | undefined,
): Promise<void> {
  const isAdmin = attempt.loginType === 'admin_login' || attempt.loginType === 'admin_logout';
  await transaction
    .insertInto('login_audits')
    .values({
      tenant_id: attempt.context.tenantId,
      user_id: isAdmin ? null : (attempt.userId ?? null),
      admin_id: isAdmin ? (attempt.userId ?? null) : null,
      login_type: attempt.loginType,
      status,
      ip_address: attempt.context.ipAddress ?? null,
      user_agent: attempt.context.userAgent?.slice(0, 255) ?? null,
      device_info: JSON.stringify({ method: attempt.method, ...(attempt.deviceInfo ?? {}) }),
      failure_reason: failureReason ?? null,
    })
    .execute();
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

export async function recordLoginSuccess(
  transaction: ScopedTransaction,
  attempt: LoginAttempt & { userId: string },
): Promise<void> {
  await transaction
    .updateTable('users')
    .set({
      failed_login_attempts: 0,
      locked_until: null,
      last_login_at: sql<Date>`now()`,
      last_login_ip: attempt.context.ipAddress ?? null,
    })
    .where('tenant_id', '=', attempt.context.tenantId)
    .where('id', '=', attempt.userId)
    .execute();
  await writeLoginRecord(transaction, attempt, 'success', undefined);
}

/** A logout is recorded too (seed 000 login_type user_logout / admin_logout). */
export async function recordLogout(
  transaction: ScopedTransaction,
  attempt: LoginAttempt & { userId: string },
): Promise<void> {
  await writeLoginRecord(transaction, attempt, 'success', undefined);
}

/** An attempt refused without checking credentials: the account or the IP address is locked. */
export async function recordLoginBlocked(
  transaction: ScopedTransaction,
  attempt: LoginAttempt,
  reason: 'account_locked' | 'ip_blocked' | 'account_inactive',
): Promise<void> {
  await writeLoginRecord(transaction, attempt, 'blocked', reason);
  if (reason === 'ip_blocked') await recordIpBlocked(transaction, attempt);
}

/** One security event per blocked address and window, not one per refused attempt. */
async function recordIpBlocked(transaction: ScopedTransaction, attempt: LoginAttempt): Promise<void> {
  const ipAddress = attempt.context.ipAddress;
  if (!ipAddress) return;
  const recent = await transaction
    .selectFrom('security_events')
    .select('id')
    .where('event_type', '=', 'LOGIN_IP_BLOCKED')
    .where('ip_address', '=', ipAddress)
    .where('created_at', '>', sql<Date>`now() - interval '15 minutes'`)
    .executeTakeFirst();
  if (recent) return;
  await transaction
    .insertInto('security_events')
    .values({
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
    })
    .execute();
}

/**
 * Counts one failure against the account (when there is one) and locks it at the threshold.
 * Returns whether this failure locked the account.
 */
export async function recordLoginFailure(
  transaction: ScopedTransaction,
  config: AuthenticationConfig,
  attempt: LoginAttempt,
  reason: string,
  user: LockableUser | undefined,
): Promise<boolean> {
  await writeLoginRecord(transaction, attempt, 'failed', reason);
  if (!user) return false;
  const failures = user.failed_login_attempts + 1;
  if (failures < config.lockoutThreshold) {
    await transaction
      .updateTable('users')
      .set({ failed_login_attempts: sql<number>`failed_login_attempts + 1` })
      .where('tenant_id', '=', attempt.context.tenantId)
      .where('id', '=', user.id)
      .execute();
    return false;
  }
  const minutes = lockoutMinutes(config, user.lockout_count);
  await transaction
    .updateTable('users')
    .set({
      failed_login_attempts: 0,
      lockout_count: sql<number>`lockout_count + 1`,
      locked_until: sql<Date>`now() + make_interval(mins => ${minutes})`,
      trust_score: sql<string>`greatest(trust_score - 10, 0)`,
    })
    .where('tenant_id', '=', attempt.context.tenantId)
    .where('id', '=', user.id)
    .execute();
  await transaction
    .insertInto('security_events')
    .values({
      tenant_id: attempt.context.tenantId,
      user_id: user.id,
      event_type: 'ACCOUNT_LOCKED',
      event_category: 'authentication',
      severity: user.lockout_count > 0 ? 'high' : 'medium',
      threat_type: 'brute_force',
      ip_address: attempt.context.ipAddress ?? null,
      user_agent: attempt.context.userAgent ?? null,
      description: `Account locked for ${minutes} minutes after ${failures} failed attempts.`,
      details: JSON.stringify({ method: attempt.method, lockout_count: user.lockout_count + 1, minutes }),
      attack_vector: attempt.method,
      detection_method: 'rule_based',
      action_taken: 'lock',
    })
    .execute();
  await recordAudit(transaction, attempt.context, {
    entityType: 'user',
    entityId: user.id,
    action: 'LOCK',
    eventType: 'SECURITY',
    eventStatus: 'BLOCKED',
    newValues: { lockout_count: user.lockout_count + 1, locked_minutes: minutes },
    riskScore: 70,
  });
  return true;
}
