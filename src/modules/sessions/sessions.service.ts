import type { Kysely } from 'kysely';
import type { Config } from '../../config/config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import type { Database, LogoutReason } from '../../db/schema.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import { signAccessToken } from '../../platform/auth/access-token.ts';
import { staffRoles } from '../../platform/auth/permissions.ts';
import type { Caller, Principal } from '../../platform/auth/principal.ts';
import { AppError, type ErrorCode, errorCatalog } from '../../platform/errors.ts';
import { assertTenantActive, recordLogout } from '../identity/login-attempts.ts';
import { deleteEndedCounters } from '../identity/security-counters.repository.ts';
import { userStatus } from '../identity/user-status.ts';
import { recordSecurityEvent } from '../security-events/security-events.service.ts';
import {
  type IssuedTokens,
  insertRefreshToken,
  logSessionEvent,
  refreshTokenHash,
} from './session-tokens.ts';
import {
  deleteEndedSessions,
  deleteSpentOtpSessions,
  deleteSpentVerificationTokens,
  endActiveSessions,
  expireSessions,
  findCurrentRefreshTokenForUpdate,
  findRefreshTokenForUpdate,
  insertSessionLogs,
  listActiveSessions,
  listTenantIds,
  markRefreshTokenRotated,
  type RefreshTokenRow,
  revokeSessionRefreshTokens,
  touchSession,
} from './sessions.repository.ts';

export interface SessionServices {
  config: Config;
  database: DatabaseHandle;
}

export interface EndSessionsInput {
  tenantId: string;
  userId: string;
  reason: LogoutReason;
  /** Only these sessions; all of the user's active sessions when absent. */
  sessionIds?: readonly string[] | undefined;
  exceptSessionId?: string | undefined;
  context: AuditContext;
}

/**
 * Ends sessions: inactive, their refresh tokens revoked, a session_logs row each (TERMINATED for the
 * user's own choice, INVALIDATED for anything forced on them). Returns the ended session ids.
 */
export async function endSessions(
  transaction: ScopedTransaction,
  input: EndSessionsInput,
): Promise<string[]> {
  if (input.sessionIds !== undefined && input.sessionIds.length === 0) return [];
  const ids = await endActiveSessions(transaction, input);
  if (ids.length === 0) return ids;
  await revokeSessionRefreshTokens(transaction, input.tenantId, ids, input.reason);
  const userChoice = input.reason === 'logout' || input.reason === 'logout_all' || input.reason === 'revoked';
  for (const sessionId of ids) {
    await logSessionEvent(transaction, {
      tenantId: input.tenantId,
      userId: input.userId,
      sessionId,
      eventType: userChoice ? 'TERMINATED' : 'INVALIDATED',
      origin: { ipAddress: input.context.ipAddress, userAgent: input.context.userAgent },
      details: { reason: input.reason },
    });
  }
  // One event for the change, however many sessions it ended.
  await recordSecurityEvent(transaction, input.context, {
    type: 'SESSION_TERMINATED',
    userId: input.userId,
    description: `${ids.length} session${ids.length === 1 ? '' : 's'} ended (${input.reason}).`,
    details: { reason: input.reason, session_ids: ids, forced: !userChoice },
    targetResource: ids.length === 1 ? `session:${ids[0]}` : undefined,
  });
  return ids;
}

type RefreshRow = RefreshTokenRow;

type RefreshOutcome = { ok: true; value: IssuedTokens } | { ok: false; code: ErrorCode; message?: string };

/** Why a found refresh token may not refresh its session, or undefined when it may. */
function refreshRefusal(row: RefreshRow, nowMs: number): RefreshOutcome | undefined {
  if (
    row.revoked_at !== null ||
    !row.session_active ||
    row.expires_at.getTime() <= nowMs ||
    row.session_expires_at.getTime() <= nowMs ||
    row.session_absolute_expires_at.getTime() <= nowMs ||
    row.user_status === userStatus.inactive ||
    row.user_deleted_at !== null
  ) {
    return { ok: false, code: 'REFRESH_TOKEN_INVALID' };
  }
  // Seed 000: a blocked admin cannot perform any actions, refreshing included.
  if (row.user_status === userStatus.blocked && staffRoles.includes(row.user_role as 'admin')) {
    return { ok: false, code: 'ACCOUNT_BLOCKED', message: 'This staff account is blocked.' };
  }
  return undefined;
}

/**
 * POST /v1/auth/refresh: rotates the refresh token. A token that was already rotated means a copy
 * exists somewhere else; the whole session is revoked and a security event recorded, unless the
 * first rotation happened within the grace window (a client retrying after a lost response), which
 * gets a fresh pair for the session instead.
 */
export async function refreshSession(
  services: SessionServices,
  context: AuditContext,
  refreshToken: string,
): Promise<IssuedTokens> {
  const { config } = services;
  const outcome = await withScope(
    services.database.db,
    { tenantId: context.tenantId },
    async (transaction): Promise<RefreshOutcome> => {
      // Exact, whatever the tenant resolver's cache says: a suspended tenant's sessions do not refresh.
      await assertTenantActive(transaction, context.tenantId);
      const row = await findRefreshTokenForUpdate(transaction, refreshTokenHash(config, refreshToken));
      const nowMs = Date.now();
      if (!row) return { ok: false, code: 'REFRESH_TOKEN_INVALID' };
      const refused = refreshRefusal(row, nowMs);
      if (refused) return refused;
      if (row.rotated_at === null)
        return { ok: true, value: await rotate(transaction, config, context, row, row.id) };
      const graceMs = config.authentication.refreshReuseGraceSeconds * 1000;
      if (nowMs - row.rotated_at.getTime() <= graceMs) {
        const current = await findCurrentRefreshTokenForUpdate(transaction, row.session_id);
        if (!current) return { ok: false, code: 'REFRESH_TOKEN_INVALID' };
        return { ok: true, value: await rotate(transaction, config, context, row, current.id) };
      }
      await revokeForReuse(transaction, context, row);
      return { ok: false, code: 'REFRESH_TOKEN_REUSED' };
    },
  );
  if (!outcome.ok) throw new AppError(outcome.code, outcome.message);
  return outcome.value;
}

async function rotate(
  transaction: ScopedTransaction,
  config: Config,
  context: AuditContext,
  row: RefreshRow,
  rotatedTokenId: string,
): Promise<IssuedTokens> {
  const origin = { ipAddress: context.ipAddress, userAgent: context.userAgent };
  const next = await insertRefreshToken(
    transaction,
    config,
    context.tenantId,
    row.user_id,
    row.session_id,
    origin,
  );
  await markRefreshTokenRotated(transaction, rotatedTokenId, next.id);
  await touchSession(transaction, row.session_id, config.authentication.sessionIdleTimeoutSeconds);
  await logSessionEvent(transaction, {
    tenantId: context.tenantId,
    userId: row.user_id,
    sessionId: row.session_id,
    eventType: 'REFRESHED',
    refreshTokenHash: next.hash,
    origin,
  });
  // One INSERT in the refresh's own transaction, scored on its type alone: no extra read.
  await recordSecurityEvent(
    transaction,
    { ...context, userId: row.user_id, sessionId: row.session_id },
    {
      type: 'SESSION_REFRESHED',
      userId: row.user_id,
      description: 'The session was refreshed with a new token pair.',
      details: { session_id: row.session_id, within_reuse_grace: rotatedTokenId !== row.id },
      targetResource: `session:${row.session_id}`,
    },
  );
  const accessToken = await signAccessToken(config.authentication, {
    tenantId: context.tenantId,
    userId: row.user_id,
    sessionId: row.session_id,
  });
  return {
    accessToken,
    refreshToken: next.token,
    expiresInSeconds: config.authentication.accessTokenTtlSeconds,
    sessionId: row.session_id,
  };
}

async function revokeForReuse(
  transaction: ScopedTransaction,
  context: AuditContext,
  row: RefreshRow,
): Promise<void> {
  await endSessions(transaction, {
    tenantId: context.tenantId,
    userId: row.user_id,
    reason: 'refresh_reuse',
    sessionIds: [row.session_id],
    context,
  });
  await recordSecurityEvent(transaction, context, {
    type: 'REFRESH_TOKEN_REUSE',
    userId: row.user_id,
    threatType: 'token_theft',
    description: 'A rotated refresh token was presented again; the session was revoked.',
    details: { session_id: row.session_id, refresh_token_id: row.id },
    targetResource: `session:${row.session_id}`,
    attackVector: 'refresh_token_replay',
    detectionMethod: 'rule_based',
  });
  await recordAudit(
    transaction,
    { ...context, userId: row.user_id, sessionId: row.session_id },
    {
      entityType: 'session',
      entityId: row.session_id,
      action: 'REVOKE',
      eventType: 'SECURITY',
      eventStatus: 'BLOCKED',
      details: { reason: 'refresh_reuse' },
      riskScore: 80,
      statusCode: errorCatalog.REFRESH_TOKEN_REUSED.status,
    },
  );
}

/**
 * Customers act under their own user scope (row-level security narrows every table to their rows);
 * staff audit rows carry admin_id rather than user_id, so staff act under the tenant scope and every
 * query names the user explicitly.
 */
export function scopeOf(principal: Principal): { tenantId: string; userId?: string } {
  return principal.isStaff
    ? { tenantId: principal.tenantId }
    : { tenantId: principal.tenantId, userId: principal.userId };
}

/** POST /v1/auth/logout and /v1/auth/logout-all. */
export async function logout(
  services: SessionServices,
  principal: Principal,
  context: AuditContext,
  which: 'current' | 'all' | 'all_but_current',
): Promise<number> {
  return withScope(services.database.db, scopeOf(principal), async (transaction) => {
    const ended = await endSessions(transaction, {
      tenantId: principal.tenantId,
      userId: principal.userId,
      reason: which === 'current' ? 'logout' : 'logout_all',
      sessionIds: which === 'current' ? [principal.sessionId] : undefined,
      exceptSessionId: which === 'all_but_current' ? principal.sessionId : undefined,
      context,
    });
    await recordLogout(transaction, {
      context,
      userId: principal.userId,
      loginType: principal.isStaff ? 'admin_logout' : 'user_logout',
      method: 'refresh',
      deviceInfo: { scope: which, sessions_ended: ended.length },
    });
    return ended.length;
  });
}

export interface SessionView {
  id: string;
  device_type: string;
  device_id: string | null;
  device_name: string | null;
  provider: string;
  ip_address: string | null;
  user_agent: string | null;
  mfa_verified: boolean;
  created_at: string;
  last_activity_at: string;
  expires_at: string;
  absolute_expires_at: string;
  current: boolean;
}

/** GET /v1/me/sessions: the caller's active sessions, newest first. */
export async function listSessions(services: SessionServices, caller: Caller): Promise<SessionView[]> {
  const rows = await listActiveSessions(services.database, caller.scope, caller.scope.userId);
  return rows.map((row) => ({
    ...row,
    created_at: row.created_at.toISOString(),
    last_activity_at: row.last_activity_at.toISOString(),
    expires_at: row.expires_at.toISOString(),
    absolute_expires_at: row.absolute_expires_at.toISOString(),
    current: row.id === caller.sessionId,
  }));
}

/** DELETE /v1/me/sessions/{id}: another user's session is not found, exactly like one that does not exist. */
export async function revokeOwnSession(
  services: SessionServices,
  principal: Principal,
  context: AuditContext,
  sessionId: string,
): Promise<void> {
  await withScope(services.database.db, scopeOf(principal), async (transaction) => {
    const ended = await endSessions(transaction, {
      tenantId: principal.tenantId,
      userId: principal.userId,
      reason: 'revoked',
      sessionIds: [sessionId],
      context,
    });
    if (ended.length === 0) throw new AppError('NOT_FOUND', 'No active session with this id.');
    await recordAudit(transaction, context, {
      entityType: 'session',
      entityId: sessionId,
      action: 'REVOKE',
      eventType: 'SESSION',
    });
  });
}

/** Ended sessions are kept this long for the user's session history, then deleted with their tokens. */
export const endedSessionRetentionDays = 30;

export interface CleanupResult {
  expiredSessions: number;
  deletedSessions: number;
  deletedOtpSessions: number;
  deletedVerificationTokens: number;
  deletedSecurityCounters: number;
}

/**
 * The scheduled cleanup: marks sessions past their idle or absolute expiry as expired (with an
 * EXPIRED session log), deletes long-ended sessions, deletes OTP sessions and verification tokens
 * that can no longer be used, and the security counters of windows that have ended. Runs tenant by tenant under row-level security.
 */
export async function cleanupExpiredSessions(db: Kysely<Database>): Promise<CleanupResult> {
  const totals: CleanupResult = {
    expiredSessions: 0,
    deletedSessions: 0,
    deletedOtpSessions: 0,
    deletedVerificationTokens: 0,
    deletedSecurityCounters: 0,
  };
  const tenants = await listTenantIds(db);
  for (const tenant of tenants) {
    await withScope(db, { tenantId: tenant.id }, async (transaction) => {
      const expired = await expireSessions(transaction);
      if (expired.length > 0) {
        await insertSessionLogs(
          transaction,
          expired.map((row) => ({
            tenant_id: tenant.id,
            event_type: 'EXPIRED' as const,
            user_id: row.user_id,
            session_id: row.id,
            details: JSON.stringify({ reason: 'expired' }),
          })),
        );
      }
      totals.expiredSessions += expired.length;
      totals.deletedSessions += await deleteEndedSessions(transaction, endedSessionRetentionDays);
      totals.deletedOtpSessions += await deleteSpentOtpSessions(transaction);
      totals.deletedVerificationTokens += await deleteSpentVerificationTokens(transaction);
      totals.deletedSecurityCounters += await deleteEndedCounters(transaction, tenant.id);
    });
  }
  return totals;
}
