import { randomBytes } from 'node:crypto';
import type { Config } from '../../config/config.ts';
import type { AuthenticationProvider, DeviceType } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import type { AuditContext } from '../../platform/audit/audit-trail.ts';
import { signAccessToken } from '../../platform/auth/access-token.ts';
import { locationJson } from '../../platform/geolocation.ts';
import type { ConsentStatus } from '../consents/consents.service.ts';
import { hashSecretToken } from '../identity/credential-hashing.ts';
import type { UserSummary } from '../identity/identity.schemas.ts';
import { recordSecurityEvent } from '../security-events/security-events.service.ts';
import type { SecuritySignals } from '../security-events/security-scores.ts';
import { insertDeviceSession, insertRefreshTokenRow, insertSessionLog } from './sessions.repository.ts';

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
  /** The trusted device (trusted_devices) the login came from, when it did. */
  trustedDeviceId?: string | undefined;
  /** The login's context and the signals its event was scored on (the session's event reuses them). */
  security: { context: AuditContext; signals: SecuritySignals };
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
  const session = await insertDeviceSession(transaction, {
    tenantId: input.tenantId,
    userId: input.userId,
    deviceType: input.device.type,
    deviceId: input.device.id ?? null,
    deviceName: input.device.name ?? null,
    provider: input.provider,
    ipAddress: input.origin.ipAddress ?? null,
    userAgent: userAgent(input.origin),
    deviceFingerprint: input.security.context.deviceFingerprint ?? null,
    location: locationJson(input.security.context.location),
    trustedDeviceId: input.trustedDeviceId ?? null,
    mfaVerified: input.mfaVerified,
    idleTimeoutSeconds: authentication.sessionIdleTimeoutSeconds,
    absoluteLifetimeSeconds: authentication.sessionAbsoluteLifetimeSeconds,
  });
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
  await recordSecurityEvent(
    transaction,
    { ...input.security.context, sessionId: session.id },
    {
      type: 'SESSION_CREATED',
      userId: input.userId,
      description: `A ${input.device.type} session was opened.`,
      details: { session_id: session.id, device_type: input.device.type, mfa_verified: input.mfaVerified },
      signals: input.security.signals,
      targetResource: `session:${session.id}`,
    },
  );
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
  const row = await insertRefreshTokenRow(transaction, {
    tenantId,
    userId,
    sessionId,
    tokenHash: hash,
    ttlSeconds: config.authentication.refreshTokenTtlSeconds,
    ipAddress: origin.ipAddress ?? null,
    userAgent: userAgent(origin),
  });
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
  await insertSessionLog(transaction, {
    tenant_id: event.tenantId,
    event_type: event.eventType,
    user_id: event.userId,
    session_id: event.sessionId,
    refresh_token_hash: event.refreshTokenHash ?? null,
    device_info: event.deviceInfo?.slice(0, 255) ?? null,
    ip_address: event.origin?.ipAddress ?? null,
    user_agent: event.origin ? userAgent(event.origin) : null,
    details: JSON.stringify(event.details ?? {}),
  });
}

/** The token pair as every login and refresh answers it (TokenPairResponseSchema, RefreshResponseSchema). */
export interface TokenPairResponse {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
  session_id: string;
}

/** The one mapping from issued tokens to the response body (the refresh answers exactly this). */
export function tokenPairResponse(tokens: IssuedTokens): TokenPairResponse {
  return {
    access_token: tokens.accessToken,
    refresh_token: tokens.refreshToken,
    token_type: 'Bearer',
    expires_in: tokens.expiresInSeconds,
    session_id: tokens.sessionId,
  };
}

/** A login's answer: the token pair, the user, and the trusted device token when one was issued. */
export function loginResponse(
  session: IssuedTokens & {
    user: UserSummary;
    trustedDeviceToken?: string | undefined;
    consent?: ConsentStatus | undefined;
  },
) {
  return {
    ...tokenPairResponse(session),
    user: session.user,
    ...(session.trustedDeviceToken ? { trusted_device_token: session.trustedDeviceToken } : {}),
    ...session.consent,
  };
}
