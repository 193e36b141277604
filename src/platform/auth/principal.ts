import type { PendingSessionCheck, Scope } from '../../db/tenant-transaction.ts';
import { AppError } from '../errors.ts';
import type { RoleName } from './permissions.ts';

/**
 * Who is calling: set on the request by the authentication guard after it has verified the access
 * token and found its session active. Services receive it (never raw tokens).
 */
export interface Principal {
  tenantId: string;
  userId: string;
  sessionId: string;
  role: RoleName;
  isStaff: boolean;
  /** seed 000: 0 inactive (cannot log in), 1 active, 2 blocked (cannot move money). */
  status: 0 | 1 | 2;
  permissions: ReadonlySet<string>;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export function requirePrincipal(request: { principal?: Principal }): Principal {
  if (!request.principal) throw new AppError('UNAUTHENTICATED');
  return request.principal;
}

/**
 * Who a reading route acts for, before and after its session check. On a 'with-read' route
 * (auth-guard.ts) the session is not checked when the handler starts: the scope names the signed
 * token's tenant and user and carries the check, which readInScope sends with the read and decides
 * before returning a row; `principal()` is available once that read has run. Elsewhere the scope is
 * the checked principal's.
 */
export interface Caller {
  scope: Scope & { userId: string };
  sessionId: string;
  principal(): Principal;
}

export function callerOf(request: {
  principal?: Principal;
  claims?: { tenantId: string; userId: string; sessionId: string };
  pendingSessionCheck?: PendingSessionCheck & { checked: boolean };
}): Caller {
  const principal = () => requirePrincipal(request);
  if (request.principal) {
    const { tenantId, userId, sessionId } = request.principal;
    return { scope: { tenantId, userId }, sessionId, principal };
  }
  const { claims, pendingSessionCheck } = request;
  if (!claims || !pendingSessionCheck) throw new AppError('UNAUTHENTICATED');
  const { tenantId, userId, sessionId } = claims;
  return { scope: { tenantId, userId, sessionCheck: pendingSessionCheck }, sessionId, principal };
}
