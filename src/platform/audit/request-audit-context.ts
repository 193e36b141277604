import type { FastifyRequest } from 'fastify';
import type { AuditContext } from './audit-trail.ts';
import { requestLocation, routeSuccessStatus } from './client-context.ts';

/**
 * The audit context of an HTTP request: tenant and actor from the verified principal, and where the
 * request came from. Staff acting on a customer pass the customer as `subjectUserId`.
 */
export function auditContextFromRequest(
  request: FastifyRequest,
  tenantId: string,
  subjectUserId?: string,
): AuditContext {
  const principal = request.principal;
  const staff = principal?.isStaff === true;
  return {
    tenantId,
    userId: staff ? subjectUserId : (principal?.userId ?? subjectUserId),
    adminId: staff ? principal?.userId : undefined,
    ipAddress: request.ip,
    userAgent: request.headers['user-agent'],
    endpoint: request.routeOptions.url ?? request.url.split('?')[0],
    method: request.method,
    requestId: request.id,
    sessionId: principal?.sessionId,
    deviceFingerprint: request.deviceFingerprintHash,
    location: requestLocation(request),
    indicatorHit: request.indicatorHit === true,
    statusCode: routeSuccessStatus(request),
    securityEventsCounter: request.server.metrics.securityEventsTotal,
  };
}
