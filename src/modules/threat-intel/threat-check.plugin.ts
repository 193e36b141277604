import type { FastifyInstance, FastifyRequest } from 'fastify';
import pg from 'pg';
import { Counter } from 'prom-client';
import { withScope } from '../../db/tenant-transaction.ts';
import { AppError } from '../../platform/errors.ts';
import { requestActor } from '../../platform/request-actor.ts';
import { resolveTenantId } from '../../platform/tenant-resolver.ts';
import { printableText } from '../../platform/text-input.ts';
import { insertSecurityEventRow } from '../security-events/security-events.repository.ts';
import type { IndicatorHit, IndicatorIndex } from './indicators.index.ts';

/** Logins, registrations and money movements: checked against the tenant's indicators. */
export const checkedRoutes: ReadonlySet<string> = new Set([
  'POST /v1/auth/banking/login',
  'POST /v1/auth/banking/verify',
  'POST /v1/auth/email/login',
  'POST /v1/auth/email/register',
  'POST /v1/auth/password/forgot',
  'POST /v1/admin/auth/login',
  'POST /v1/transactions/transfer',
  'POST /v1/transactions/batch',
  'POST /v1/transactions/topup',
  'POST /v1/transactions/withdraw',
  'POST /v1/admin/disbursements',
]);

const riskBySeverity = { critical: 95, high: 80, medium: 50, low: 25 } as const;

function denies(hit: IndicatorHit): boolean {
  return hit.severity === 'critical' || hit.severity === 'high';
}

async function requestTenant(app: FastifyInstance, request: FastifyRequest): Promise<string | undefined> {
  const known = request.principal?.tenantId ?? request.claims?.tenantId;
  if (known) return known;
  // An unknown or suspended tenant is answered by the route itself.
  return resolveTenantId(app, request).catch(() => undefined);
}

function bodyEmail(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || !('email' in body)) return undefined;
  return typeof body.email === 'string' ? body.email : undefined;
}

/**
 * Threat-intelligence checks (issue 10 item 5): before a checked route's handler runs, the client
 * address and any `email` in the body are looked up in the in-memory index. A high or critical hit is
 * refused with 403 REQUEST_BLOCKED; a low or medium one is let through, and the security events the
 * request then writes (a login, a session) count the hit in their scores. Both record a security event
 * (THREAT_INTEL_MATCH, action deny or allow) in a transaction of their own.
 */
export function registerThreatChecks(app: FastifyInstance, index: IndicatorIndex): void {
  const hits = new Counter({
    name: 'corebank_threat_intel_hits_total',
    help: 'Requests matching a threat-intelligence indicator, by severity and action.',
    labelNames: ['severity', 'action'],
    registers: [app.metrics.registry],
  });
  app.addHook('preHandler', async (request) => {
    if (!checkedRoutes.has(`${request.method} ${request.routeOptions.url}`)) return;
    const tenantId = await requestTenant(app, request);
    if (!tenantId) return;
    const hit = await index.match(tenantId, { ip: request.ip, email: bodyEmail(request.body) });
    if (!hit) return;
    const action = denies(hit) ? 'deny' : 'allow';
    hits.inc({ severity: hit.severity, action });
    await withScope(app.database.db, { tenantId }, (transaction) =>
      insertSecurityEventRow(transaction, {
        tenant_id: tenantId,
        user_id: requestActor(request).userId,
        event_type: 'THREAT_INTEL_MATCH',
        event_category: 'threat',
        severity: hit.severity,
        threat_type: hit.threatType.slice(0, 100),
        ip_address: request.ip,
        user_agent: printableText(request.headers['user-agent']?.slice(0, 1000) ?? '') || null,
        description: `${request.method} ${request.routeOptions.url} matched a ${hit.type} indicator`,
        details: JSON.stringify({
          indicator_id: hit.id,
          indicator_type: hit.type,
          indicator_value: hit.value,
        }),
        target_resource: request.routeOptions.url ?? null,
        detection_method: 'threat_intelligence',
        risk_score: riskBySeverity[hit.severity],
        action_taken: action,
      }),
    );
    if (action === 'deny') throw new AppError('REQUEST_BLOCKED');
    // Let through: the request's own security events are scored with the hit (security-scores.ts).
    request.indicatorHit = true;
  });
}

/**
 * Keeps the index of this process in step with the others: PostgreSQL notifies `corebank_indicators`
 * (a statement trigger on threat_intelligence) with the tenant whose indicators changed. A lost
 * connection is retried every 5 s; the index's own maximum age bounds what a missed notice costs.
 */
export function listenForIndicatorChanges(app: FastifyInstance, index: IndicatorIndex): void {
  const url = app.config.databaseUrl;
  if (!url || app.database.engine !== 'postgres') return;
  let client: pg.Client | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const connect = async () => {
    const next = new pg.Client({ connectionString: url, application_name: 'corebank-indicators' });
    next.on('notification', (message) => index.invalidate(message.payload || undefined));
    next.on('error', () => scheduleRetry());
    try {
      await next.connect();
      await next.query('listen corebank_indicators');
      if (stopped) return void next.end().catch(() => undefined);
      client = next;
      index.invalidate();
    } catch (error) {
      app.log.warn({ err: error }, 'indicator change listener not connected; retrying in 5 s');
      next.end().catch(() => undefined);
      scheduleRetry();
    }
  };
  const scheduleRetry = () => {
    client = undefined;
    if (stopped || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      void connect();
    }, 5000);
    retry.unref();
  };
  app.addHook('onReady', async () => {
    void connect();
  });
  app.addHook('onClose', async () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    await client?.end().catch(() => undefined);
  });
}
