import type { FastifyRequest } from 'fastify';

/**
 * Whom a request acted for, as far as it got: the checked principal, else the verified token (a
 * route that checks its session in its own statement, or a session the check refused), else the
 * tenant an unauthenticated request resolved to. Background rows (access log, security events,
 * rate-limit violations) are filed under it; undefined tenant means the default tenant.
 */
export function requestActor(request: FastifyRequest): {
  tenantId: string | undefined;
  userId: string | null;
} {
  const principal = request.principal;
  if (principal) return { tenantId: principal.tenantId, userId: principal.userId };
  const claims = request.claims ?? request.verifiedClaims;
  if (claims) return { tenantId: claims.tenantId, userId: claims.userId };
  return { tenantId: request.resolvedTenantId, userId: null };
}

/** The session a request's token names, as far as the request got (the checked principal's first). */
export function requestSessionId(request: FastifyRequest): string | undefined {
  return request.principal?.sessionId ?? request.claims?.sessionId ?? request.verifiedClaims?.sessionId;
}
