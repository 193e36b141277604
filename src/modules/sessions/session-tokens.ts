import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Config } from '../../config/config.ts';
import type { AuthenticationProvider, DeviceType } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { signAccessToken } from '../../platform/auth/access-token.ts';
import { hashSecretToken } from '../identity/credential-hashing.ts';

export interface DeviceInfo {
  type: DeviceType;
  id?: string | undefined;
  name?: string | undefined;
}

export interface RequestOrigin {
  ipAddress: string | undefined;
  userAgent: string | undefined;
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  expiresInSeconds: number;
  sessionId: string;
}

export interface OpenSessionInput {
  tenantId: string;
  userId: string;
  device: DeviceInfo;
  provider: AuthenticationProvider;
  origin: RequestOrigin;
  mfaVerified: boolean;
}

const refreshTokenBytes = 32;
const userAgentLengthMax = 1000;

/** Opaque, 256 random bits, prefixed so a leaked one is recognisable in a secret scanner. */
export function newRefreshToken(): string {
  return `rt_${randomBytes(refreshTokenBytes).toString('base64url')}`;
}

export function refreshTokenHash(config: Pick<Config, 'secretTokenKey'>, token: string): string {
  return hashSecretToken(token, config.secretTokenKey);
}

function userAgent(origin: RequestOrigin): string | null {
  return origin.userAgent?.slice(0, userAgentLengthMax) ?? null;
}

/**
 * Opens a device session with its first refresh token and logs the CREATED event (with the token's
 * hash, never the token). Runs inside the caller's transaction, next to the login's audit rows.
 */
export async function openSession(
  transaction: ScopedTransaction,
  config: Config,
  input: OpenSessionInput,
): Promise<IssuedTokens> {
  const { authentication } = config;
  const session = await transaction
    .insertInto('device_sessions')
    .values({
      tenant_id: input.tenantId,
      user_id: input.userId,
      device_type: input.device.type,
      device_id: input.device.id ?? null,
      device_name: input.device.name ?? null,
      provider: input.provider,
      ip_address: input.origin.ipAddress ?? null,
      user_agent: userAgent(input.origin),
      mfa_verified: input.mfaVerified,
      expires_at: sql<Date>`now() + make_interval(secs => ${authentication.sessionIdleTimeoutSeconds})`,
      absolute_expires_at: sql<Date>`now() + make_interval(secs => ${authentication.sessionAbsoluteLifetimeSeconds})`,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const refreshToken = await insertRefreshToken(
    transaction,
    config,
    input.tenantId,
    input.userId,
    session.id,
    input.origin,
  );
  await logSessionEvent(transaction, {
    tenantId: input.tenantId,
    userId: input.userId,
    sessionId: session.id,
    eventType: 'CREATED',
    refreshTokenHash: refreshToken.hash,
    origin: input.origin,
    deviceInfo: `${input.device.type}${input.device.name ? `: ${input.device.name}` : ''}`,
  });
  const accessToken = await signAccessToken(authentication, {
    tenantId: input.tenantId,
    userId: input.userId,
    sessionId: session.id,
  });
  return {
    accessToken,
    refreshToken: refreshToken.token,
    expiresInSeconds: authentication.accessTokenTtlSeconds,
    sessionId: session.id,
  };
}

export async function insertRefreshToken(
  transaction: ScopedTransaction,
  config: Config,
  tenantId: string,
  userId: string,
  sessionId: string,
  origin: RequestOrigin,
): Promise<{ id: string; token: string; hash: string }> {
  const token = newRefreshToken();
  const hash = refreshTokenHash(config, token);
  const row = await transaction
    .insertInto('refresh_tokens')
    .values({
      tenant_id: tenantId,
      user_id: userId,
      session_id: sessionId,
      token_hash: hash,
      // A refresh token never outlives its session's absolute lifetime.
      expires_at: sql<Date>`least(now() + make_interval(secs => ${config.authentication.refreshTokenTtlSeconds}),
        (select absolute_expires_at from device_sessions where tenant_id = ${tenantId} and id = ${sessionId}))`,
      ip_address: origin.ipAddress ?? null,
      user_agent: userAgent(origin),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, token, hash };
}

export interface SessionEvent {
  tenantId: string;
  userId: string;
  sessionId: string;
  eventType: 'CREATED' | 'REFRESHED' | 'TERMINATED' | 'EXPIRED' | 'INVALIDATED';
  refreshTokenHash?: string | undefined;
  origin?: RequestOrigin | undefined;
  deviceInfo?: string | undefined;
  details?: Record<string, unknown>;
}

/** seed 001 session_logs: what happened to a session, with token hashes only. */
export async function logSessionEvent(transaction: ScopedTransaction, event: SessionEvent): Promise<void> {
  await transaction
    .insertInto('session_logs')
    .values({
      tenant_id: event.tenantId,
      event_type: event.eventType,
      user_id: event.userId,
      session_id: event.sessionId,
      refresh_token_hash: event.refreshTokenHash ?? null,
      device_info: event.deviceInfo?.slice(0, 255) ?? null,
      ip_address: event.origin?.ipAddress ?? null,
      user_agent: event.origin ? userAgent(event.origin) : null,
      details: JSON.stringify(event.details ?? {}),
    })
    .execute();
}
