import { type Insertable, type Kysely, sql } from 'kysely';
import type { DatabaseHandle } from '../../db/database.ts';
import type {
  AuthenticationProvider,
  Database,
  DeviceType,
  LogoutReason,
  SessionLogsTable,
} from '../../db/schema.ts';
import { readInScope, type Scope, type ScopedTransaction } from '../../db/tenant-transaction.ts';

/** A user's active, unexpired sessions, newest first (at most 100), in one round trip (readInScope). */
export async function listActiveSessions(database: DatabaseHandle, scope: Scope, userId: string) {
  const query = database.db
    .selectFrom('device_sessions')
    .select([
      'id',
      'device_type',
      'device_id',
      'device_name',
      'provider',
      'ip_address',
      'user_agent',
      'mfa_verified',
      'created_at',
      'last_activity_at',
      'expires_at',
      'absolute_expires_at',
    ])
    .where('tenant_id', '=', scope.tenantId)
    .where('user_id', '=', userId)
    .where('is_active', '=', true)
    .where('expires_at', '>', sql<Date>`now()`)
    .orderBy('id', 'desc')
    .limit(100)
    .compile();
  return readInScope(database, scope, query);
}

// The queries of the session lifecycle (seed 001): device sessions, refresh tokens, session logs and
// the scheduled cleanup. Every function runs in the caller's scoped transaction.

export interface NewDeviceSession {
  tenantId: string;
  userId: string;
  deviceType: DeviceType;
  deviceId: string | null;
  deviceName: string | null;
  provider: AuthenticationProvider;
  ipAddress: string | null;
  userAgent: string | null;
  /** The keyed hash of the client's X-Device-Fingerprint. */
  deviceFingerprint: string | null;
  /** The address's location (GeoIP), as JSON text. */
  location: string | null;
  trustedDeviceId: string | null;
  mfaVerified: boolean;
  idleTimeoutSeconds: number;
  absoluteLifetimeSeconds: number;
}

export async function insertDeviceSession(transaction: ScopedTransaction, session: NewDeviceSession) {
  return transaction
    .insertInto('device_sessions')
    .values({
      tenant_id: session.tenantId,
      user_id: session.userId,
      device_type: session.deviceType,
      device_id: session.deviceId,
      device_name: session.deviceName,
      provider: session.provider,
      ip_address: session.ipAddress,
      user_agent: session.userAgent,
      device_fingerprint: session.deviceFingerprint,
      location: session.location,
      trusted_device_id: session.trustedDeviceId,
      mfa_verified: session.mfaVerified,
      expires_at: sql<Date>`now() + make_interval(secs => ${session.idleTimeoutSeconds})`,
      absolute_expires_at: sql<Date>`now() + make_interval(secs => ${session.absoluteLifetimeSeconds})`,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
}

export interface NewRefreshTokenRow {
  tenantId: string;
  userId: string;
  sessionId: string;
  tokenHash: string;
  ttlSeconds: number;
  ipAddress: string | null;
  userAgent: string | null;
}

export async function insertRefreshTokenRow(transaction: ScopedTransaction, token: NewRefreshTokenRow) {
  return transaction
    .insertInto('refresh_tokens')
    .values({
      tenant_id: token.tenantId,
      user_id: token.userId,
      session_id: token.sessionId,
      token_hash: token.tokenHash,
      // A refresh token never outlives its session's absolute lifetime.
      expires_at: sql<Date>`least(now() + make_interval(secs => ${token.ttlSeconds}),
        (select absolute_expires_at from device_sessions where tenant_id = ${token.tenantId} and id = ${token.sessionId}))`,
      ip_address: token.ipAddress,
      user_agent: token.userAgent,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
}

export async function insertSessionLog(transaction: ScopedTransaction, log: Insertable<SessionLogsTable>) {
  await transaction.insertInto('session_logs').values(log).execute();
}

export async function insertSessionLogs(
  transaction: ScopedTransaction,
  logs: Insertable<SessionLogsTable>[],
) {
  await transaction.insertInto('session_logs').values(logs).execute();
}

export interface EndActiveSessionsFilter {
  tenantId: string;
  userId: string;
  reason: LogoutReason;
  sessionIds?: readonly string[] | undefined;
  exceptSessionId?: string | undefined;
}

/** Marks the user's matching active sessions ended; returns their ids. */
export async function endActiveSessions(transaction: ScopedTransaction, filter: EndActiveSessionsFilter) {
  let query = transaction
    .updateTable('device_sessions')
    .set({ is_active: false, logout_at: sql<Date>`now()`, logout_reason: filter.reason })
    .where('tenant_id', '=', filter.tenantId)
    .where('user_id', '=', filter.userId)
    .where('is_active', '=', true);
  if (filter.sessionIds) query = query.where('id', 'in', [...filter.sessionIds]);
  if (filter.exceptSessionId) query = query.where('id', '!=', filter.exceptSessionId);
  const ended = await query.returning('id').execute();
  return ended.map((row) => row.id);
}

export async function revokeSessionRefreshTokens(
  transaction: ScopedTransaction,
  tenantId: string,
  sessionIds: string[],
  reason: LogoutReason,
): Promise<void> {
  await transaction
    .updateTable('refresh_tokens')
    .set({ revoked_at: sql<Date>`now()`, revoked_reason: reason })
    .where('tenant_id', '=', tenantId)
    .where('session_id', 'in', sessionIds)
    .where('revoked_at', 'is', null)
    .execute();
}

/** The refresh token with its session and user, locked for the rotation. */
export async function findRefreshTokenForUpdate(transaction: ScopedTransaction, tokenHash: string) {
  return transaction
    .selectFrom('refresh_tokens as r')
    .innerJoin('device_sessions as s', (join) =>
      join.onRef('s.tenant_id', '=', 'r.tenant_id').onRef('s.id', '=', 'r.session_id'),
    )
    .innerJoin('users as u', (join) =>
      join.onRef('u.tenant_id', '=', 'r.tenant_id').onRef('u.id', '=', 'r.user_id'),
    )
    .select([
      'r.id',
      'r.user_id',
      'r.session_id',
      'r.expires_at',
      'r.rotated_at',
      'r.revoked_at',
      's.is_active as session_active',
      's.expires_at as session_expires_at',
      's.absolute_expires_at as session_absolute_expires_at',
      'u.status as user_status',
      'u.role as user_role',
      'u.deleted_at as user_deleted_at',
    ])
    .where('r.token_hash', '=', tokenHash)
    .forUpdate('r')
    .executeTakeFirst();
}

export type RefreshTokenRow = NonNullable<Awaited<ReturnType<typeof findRefreshTokenForUpdate>>>;

/** The session's current (unrotated, unrevoked) refresh token, locked. */
export async function findCurrentRefreshTokenForUpdate(transaction: ScopedTransaction, sessionId: string) {
  return transaction
    .selectFrom('refresh_tokens')
    .select('id')
    .where('session_id', '=', sessionId)
    .where('rotated_at', 'is', null)
    .where('revoked_at', 'is', null)
    .forUpdate()
    .executeTakeFirst();
}

export async function markRefreshTokenRotated(
  transaction: ScopedTransaction,
  tokenId: string,
  replacedById: string,
): Promise<void> {
  await transaction
    .updateTable('refresh_tokens')
    .set({ rotated_at: sql<Date>`now()`, replaced_by_id: replacedById })
    .where('id', '=', tokenId)
    .execute();
}

/** Records activity on a session and pushes its idle expiry out, never past its absolute expiry. */
export async function touchSession(
  transaction: ScopedTransaction,
  sessionId: string,
  idleTimeoutSeconds: number,
): Promise<void> {
  await transaction
    .updateTable('device_sessions')
    .set({
      last_activity_at: sql<Date>`now()`,
      expires_at: sql<Date>`least(now() + make_interval(secs => ${idleTimeoutSeconds}), absolute_expires_at)`,
    })
    .where('id', '=', sessionId)
    .execute();
}

export async function listTenantIds(db: Kysely<Database>) {
  return db.selectFrom('tenants').select('id').execute();
}

/** Ends the tenant's active sessions past their idle or absolute expiry; returns their ids and users. */
export async function expireSessions(transaction: ScopedTransaction) {
  return transaction
    .updateTable('device_sessions')
    .set({ is_active: false, logout_at: sql<Date>`now()`, logout_reason: 'expired' })
    .where('is_active', '=', true)
    .where((eb) =>
      eb.or([eb('expires_at', '<=', sql<Date>`now()`), eb('absolute_expires_at', '<=', sql<Date>`now()`)]),
    )
    .returning(['id', 'user_id'])
    .execute();
}

export async function deleteEndedSessions(
  transaction: ScopedTransaction,
  retentionDays: number,
): Promise<number> {
  const deleted = await transaction
    .deleteFrom('device_sessions')
    .where('is_active', '=', false)
    .where('logout_at', '<', sql<Date>`now() - make_interval(days => ${retentionDays})`)
    .executeTakeFirst();
  return Number(deleted.numDeletedRows);
}

export async function deleteSpentOtpSessions(transaction: ScopedTransaction): Promise<number> {
  const deleted = await transaction
    .deleteFrom('otp_sessions')
    .where((eb) => eb.or([eb('expires_at', '<=', sql<Date>`now()`), eb('is_used', '=', true)]))
    .executeTakeFirst();
  return Number(deleted.numDeletedRows);
}

export async function deleteSpentVerificationTokens(transaction: ScopedTransaction): Promise<number> {
  const deleted = await transaction
    .deleteFrom('verification_tokens')
    .where((eb) => eb.or([eb('expires_at', '<=', sql<Date>`now()`), eb('used_at', 'is not', null)]))
    .executeTakeFirst();
  return Number(deleted.numDeletedRows);
}
