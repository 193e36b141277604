import { isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requestLocation } from '../../platform/audit/client-context.ts';
import { backgroundQueue } from '../../platform/background-queue.ts';
import { locationJson } from '../../platform/geolocation.ts';
import { requestActor } from '../../platform/request-actor.ts';
import { type TenantEntry, writePerTenant } from '../../platform/tenant-batches.ts';
import { printableText } from '../../platform/text-input.ts';
import type { NewSecurityEventRow } from './security-events.repository.ts';
import { insertSecurityEventRows } from './security-events.repository.ts';

type EventRow = Omit<NewSecurityEventRow, 'tenant_id'>;

interface RefusalKind {
  type: string;
  category: 'authorization' | 'authentication';
  severity: 'low' | 'medium';
  description: string;
}

/** Refusals that are security events (issue 10 item 1); the others (400s, 404s) are not. */
const refusals: Record<string, RefusalKind> = {
  FORBIDDEN: {
    type: 'AUTHORIZATION_DENIED',
    category: 'authorization',
    severity: 'medium',
    description: 'A signed-in caller asked for something their permissions do not allow',
  },
  UNAUTHENTICATED: {
    type: 'ACCESS_TOKEN_REJECTED',
    category: 'authentication',
    severity: 'low',
    description: 'A bearer token was missing, invalid, expired or for an ended session',
  },
};

function refusalRow(request: FastifyRequest, kind: RefusalKind): EventRow {
  const userAgent = request.headers['user-agent'];
  return {
    created_at: new Date(),
    user_id: requestActor(request).userId,
    event_type: kind.type,
    event_category: kind.category,
    severity: kind.severity,
    ip_address: isIP(request.ip) ? request.ip : null,
    device_fingerprint: request.deviceFingerprintHash ?? null,
    geolocation: locationJson(requestLocation(request)),
    user_agent: typeof userAgent === 'string' ? printableText(userAgent.slice(0, 1000)) : null,
    description: kind.description,
    target_resource: printableText(`${request.method} ${request.routeOptions.url ?? ''}`.slice(0, 255)),
    details: JSON.stringify({ request_id: request.id }),
    action_taken: 'deny',
  };
}

/**
 * Security events for refused requests (issue 10 item 1): every 403 FORBIDDEN (authorization) and
 * every 401 UNAUTHENTICATED of a request that carried a bearer token (authentication). A refused
 * request changed nothing, so its event is written in a transaction of its own — in batches after
 * the response (BatchQueue), never on the request's critical path.
 */
export function registerRefusalEvents(app: FastifyInstance): void {
  const queue = backgroundQueue<TenantEntry<EventRow>>(app, {
    queue: 'refusal_events',
    holds: 'security events',
    entriesMax: 10_000,
    batchEntriesMax: 200,
    write: (entries, onUnfiled) => writePerTenant(app, entries, insertSecurityEventRows, onUnfiled),
  });
  app.addHook('onResponse', async (request) => {
    const kind = request.errorCode ? refusals[request.errorCode] : undefined;
    if (!kind) return;
    if (kind.type === 'ACCESS_TOKEN_REJECTED' && !request.headers.authorization) return;
    app.metrics.securityEventsTotal.inc({ type: kind.type, severity: kind.severity });
    queue.push({
      tenantId: requestActor(request).tenantId,
      row: refusalRow(request, kind),
    });
  });
  app.addHook('onClose', async () => {
    await queue.close();
  });
}
