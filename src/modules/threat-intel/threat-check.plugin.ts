import type { FastifyInstance, FastifyRequest } from 'fastify';
import pg from 'pg';
import { Counter } from 'prom-client';
import { withScope } from '../../db/tenant-transaction.ts';
import { AppError } from '../../platform/errors.ts';
import { requestActor, requestSessionId } from '../../platform/request-actor.ts';
import { resolveTenantId } from '../../platform/tenant-resolver.ts';
import { printableText } from '../../platform/text-input.ts';
import { challengeStepUp } from '../detection/detection.repository.ts';
import {
  insertSecurityEventRow,
  type NewSecurityEventRow,
} from '../security-events/security-events.repository.ts';
import type { IndicatorHit, IndicatorIndex } from './indicators.index.ts';
import { challengedRoutes, checkedRoutes } from './threat-check.scope.ts';

const riskBySeverity = { critical: 95, high: 80, medium: 50, low: 25 } as const;

/** The reason a threat-intelligence challenge writes in step_up_requirements. */
const stepUpReason = 'threat_intelligence';

type CheckAction = 'deny' | 'challenge' | 'allow';

/** Who a medium hit challenges: the signed-in user and session of a money movement, else nobody. */
function challengedCaller(
  request: FastifyRequest,
  key: string,
  hit: IndicatorHit,
): { userId: string; sessionId: string } | undefined {
  if (hit.severity !== 'medium' || !challengedRoutes.has(key)) return undefined;
  const { userId } = requestActor(request);
  const sessionId = requestSessionId(request);
  return userId && sessionId ? { userId, sessionId } : undefined;
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

function matchEvent(
  request: FastifyRequest,
  tenantId: string,
  hit: IndicatorHit,
  action: CheckAction,
): NewSecurityEventRow {
  return {
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
  };
}

/**
 * Decides the hit and records it in one transaction: a challenge's step-up requirement (or the
 * session that already answers it) and the THREAT_INTEL_MATCH event commit together.
 */
async function recordHit(
  app: FastifyInstance,
  request: FastifyRequest,
  tenantId: string,
  hit: IndicatorHit,
): Promise<{ action: CheckAction; requirementWritten: boolean }> {
  const caller = challengedCaller(request, `${request.method} ${request.routeOptions.url}`, hit);
  return withScope(app.database.db, { tenantId }, async (transaction) => {
    let action: CheckAction = hit.severity === 'critical' || hit.severity === 'high' ? 'deny' : 'allow';
    let requirementWritten = false;
    if (caller) {
      const state = await challengeStepUp(
        transaction,
        tenantId,
        caller.userId,
        caller.sessionId,
        stepUpReason,
      );
      action = state === 'required' || state === 'pending' ? 'challenge' : 'allow';
      requirementWritten = state === 'required';
    }
    await insertSecurityEventRow(transaction, matchEvent(request, tenantId, hit, action));
    return { action, requirementWritten };
  });
}

/**
 * Threat-intelligence checks (issue 10 item 5): before a checked route's handler runs, the client
 * address and any `email` in the body are looked up in the in-memory index. A high or critical hit is
 * refused with 403 REQUEST_BLOCKED. A medium hit on a money movement by a signed-in user is a
 * challenge: the user owes a step-up (403 STEP_UP_REQUIRED) until a session opened with its second
 * factor after the requirement; such a session is let through from then on. Every other hit is let
 * through, and the security events the request then writes (a login, a session) count the hit in
 * their scores. Each hit records a security event (THREAT_INTEL_MATCH, action deny, challenge or
 * allow). Registered after detection's step-up check, so a fresh session has satisfied a pending
 * requirement before this check asks whether it answers it.
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
    const { action, requirementWritten } = await recordHit(app, request, tenantId, hit);
    hits.inc({ severity: hit.severity, action });
    if (action === 'deny') throw new AppError('REQUEST_BLOCKED');
    if (action === 'challenge') {
      // This process enforces a new step-up on the user's other sensitive routes at once; a flood of
      // challenged requests reloads the tenant's controls once, not once per request.
      if (requirementWritten) app.detection.controlsChanged(tenantId);
      throw new AppError('STEP_UP_REQUIRED');
    }
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
