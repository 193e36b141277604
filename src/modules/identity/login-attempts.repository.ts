import { sql } from 'kysely';
import type { NewLoginAudit } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

/**
 * The queries behind the per-account attempt limit (users.failed_login_attempts, locked_until,
 * lockout_count) and the per-token OTP limit (otp_sessions.failed_attempts). Every decision is one
 * conditional UPDATE under the account's row lock, committed with the verdict: see login-attempts.ts.
 */
export interface LockPolicy {
  threshold: number;
  baseMinutes: number;
  maxMinutes: number;
}

export async function findTenantStatus(
  transaction: ScopedTransaction,
  tenantId: string,
): Promise<string | undefined> {
  const row = await transaction
    .selectFrom('tenants')
    .select('status')
    .where('id', '=', tenantId)
    .executeTakeFirst();
  return row?.status;
}

/**
 * Locks the account's row for the decision of one credential check and says whether the account is
 * locked now. Concurrent checks of one account wait here, so each sees the count every earlier wrong
 * guess committed: in-flight checks count for nothing (a burst of right credentials never locks).
 */
export async function lockAccountForAttempt(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
): Promise<boolean> {
  const row = await transaction
    .selectFrom('users')
    .select(sql<boolean>`coalesce(locked_until > now(), false)`.as('locked'))
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId)
    .forUpdate()
    .executeTakeFirst();
  return row?.locked ?? false;
}

/**
 * Counts one wrong credential of an account that is not locked (the caller holds its row lock), or
 * returns undefined when it is locked. An expired lock starts a fresh count. The failure that reaches
 * the threshold locks the account in the same statement, minutes doubling with every lockout up to
 * the maximum; `locked_until` comes back non-null only from that statement.
 */
export async function countAccountFailure(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  policy: LockPolicy,
) {
  const next = sql<number>`(case when locked_until is null then failed_login_attempts + 1 else 1 end)`;
  const locks = sql<boolean>`(${next} >= ${policy.threshold}::integer)`;
  const minutes = sql<number>`least(${policy.baseMinutes}::integer * (1 << least(lockout_count, 20)),
                                    ${policy.maxMinutes}::integer)`;
  return transaction
    .updateTable('users')
    .set({
      failed_login_attempts: next,
      locked_until: sql<Date | null>`case when ${locks}
        then date_trunc('milliseconds', now() + make_interval(mins => ${minutes})) end`,
      lockout_count: sql<number>`lockout_count + case when ${locks} then 1 else 0 end`,
    })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', sql<Date>`now()`)]))
    .returning(['failed_login_attempts as attempt_number', 'locked_until', 'lockout_count'])
    .executeTakeFirst();
}

/** A login succeeded: the count starts again and the login is remembered. */
export async function settleAccountSuccess(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  ipAddress: string | undefined,
): Promise<void> {
  await transaction
    .updateTable('users')
    .set({ failed_login_attempts: 0, last_login_at: sql<Date>`now()`, last_login_ip: ipAddress ?? null })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId)
    .execute();
}

export async function lowerTrustScore(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
): Promise<void> {
  await transaction
    .updateTable('users')
    .set({ trust_score: sql<string>`greatest(trust_score - 10, 0)` })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId)
    .execute();
}

/**
 * Reserves one guess of a live login token, or returns undefined when the token is unknown, used,
 * expired or out of guesses. Reserved before the code is compared, so a burst of guesses at one token
 * gets at most `attemptsMax` comparisons.
 */
export async function reserveOtpAttempt(
  transaction: ScopedTransaction,
  tenantId: string,
  loginTokenHash: string,
  attemptsMax: number,
) {
  return transaction
    .updateTable('otp_sessions')
    .set({ failed_attempts: sql<number>`failed_attempts + 1` })
    .where('tenant_id', '=', tenantId)
    .where('login_token_hash', '=', loginTokenHash)
    .where('is_used', '=', false)
    .where('expires_at', '>', sql<Date>`now()`)
    .where('failed_attempts', '<', attemptsMax)
    .returning([
      'id',
      'otp_hash',
      'phone',
      'name',
      'account_number',
      'mother_name',
      'pin_hash',
      'device_type',
      'device_id',
      'device_name',
      'user_id',
    ])
    .executeTakeFirst();
}

/** Spends the login token; false when a concurrent verification spent it first. */
export async function claimOtpSession(
  transaction: ScopedTransaction,
  otpSessionId: string,
): Promise<boolean> {
  const claimed = await transaction
    .updateTable('otp_sessions')
    .set({ is_used: true })
    .where('id', '=', otpSessionId)
    .where('is_used', '=', false)
    .executeTakeFirst();
  return Number(claimed.numUpdatedRows) === 1;
}

export async function insertLoginAudit(transaction: ScopedTransaction, row: NewLoginAudit): Promise<void> {
  await transaction.insertInto('login_audits').values(row).execute();
}
