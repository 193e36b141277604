import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { databaseUnavailable } from '../../db/database-errors.ts';
import { withScope } from '../../db/tenant-transaction.ts';
import { AppError } from '../../platform/errors.ts';
import { requestActor, requestSessionId } from '../../platform/request-actor.ts';
import { resolveTenantId } from '../../platform/tenant-resolver.ts';
import { ActiveControlsCache } from './detection.controls.ts';
import { settleStepUp } from './detection.repository.ts';
import { sensitiveRoutes, unblockedRoutes } from './detection.scope.ts';
import {
  type DetectionServices,
  type DetectionTrigger,
  detectAfterRequest,
  sweepDetections,
} from './detection.service.ts';

/** Login routes: a refusal (401, 403, 423, 429) runs the login rules for the address. */
const loginRoutes: ReadonlySet<string> = new Set([
  'POST /v1/auth/banking/login',
  'POST /v1/auth/banking/verify',
  'POST /v1/auth/email/login',
  'POST /v1/admin/auth/login',
]);

/** Routes whose success opens a session: a login from a new address. */
const sessionRoutes: ReadonlySet<string> = new Set([
  'POST /v1/auth/banking/verify',
  'POST /v1/auth/email/login',
  'POST /v1/admin/auth/login',
]);

/** The sensitive routes that move money out: their amounts decide whether the large-amount rule runs. */
const moneyOutRoutes: ReadonlySet<string> = new Set([
  'POST /v1/transactions/transfer',
  'POST /v1/transactions/batch',
  'POST /v1/transactions/withdraw',
]);

const loginRefusals: ReadonlySet<number> = new Set([401, 403, 423, 429]);

/** Inline runs in flight at once; past it a trigger is left to the sweep (memory stays bounded). */
const inlineRunsMax = 1000;

declare module 'fastify' {
  interface FastifyInstance {
    detection: {
      /** Every rule over the recent window of every tenant (the scheduled job calls it too). */
      sweep(): Promise<number>;
      /** Resolves when no inline run is in flight (tests, shutdown). */
      settled(): Promise<void>;
      /** Another module changed the tenant's blocks or step-ups: this process reads them again. */
      controlsChanged(tenantId: string): void;
    };
  }
}

function routeKey(request: FastifyRequest): string {
  return `${request.method} ${request.routeOptions.url ?? ''}`;
}

/** The amounts a money route's validated body moves out (`amount`, or each of `transfers`); undefined when not read. */
function outgoingAmounts(body: unknown): number[] | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { amount, transfers } = body as { amount?: unknown; transfers?: unknown };
  if (typeof amount === 'number') return [amount];
  if (!Array.isArray(transfers)) return undefined;
  const amounts = transfers.map((item: { amount?: unknown } | null) => item?.amount);
  return amounts.every((value) => typeof value === 'number') ? (amounts as number[]) : undefined;
}

/** Whether a sensitive action may have moved a large amount out: an unread money body counts as one. */
function mayMoveLargeAmount(request: FastifyRequest, key: string, largeAmountMinor: number): boolean {
  if (!moneyOutRoutes.has(key)) return false;
  const amounts = outgoingAmounts(request.body);
  return amounts === undefined || amounts.some((amount) => amount >= largeAmountMinor);
}

function triggerOf(
  request: FastifyRequest,
  status: number,
  largeAmountMinor: number,
): DetectionTrigger | undefined {
  const key = routeKey(request);
  if (request.errorCode === 'REQUEST_BLOCKED' || request.errorCode === 'STEP_UP_REQUIRED') return undefined;
  if (loginRoutes.has(key) && loginRefusals.has(status)) return { kind: 'login_failure', ip: request.ip };
  if (status >= 200 && status < 300) {
    if (sessionRoutes.has(key)) return { kind: 'login_success', ip: request.ip };
    const userId = requestActor(request).userId;
    if (sensitiveRoutes.has(key) && userId)
      return {
        kind: 'sensitive_action',
        userId,
        largeAmount: mayMoveLargeAmount(request, key, largeAmountMinor),
        velocityTransfers: request.velocityTransfers,
      };
  }
  if (request.errorCode === 'FORBIDDEN') return { kind: 'forbidden', ip: request.ip };
  return undefined;
}

async function tenantOf(app: FastifyInstance, request: FastifyRequest): Promise<string | undefined> {
  const known = requestActor(request).tenantId ?? request.verifiedClaims?.tenantId;
  if (known) return known;
  // Resolved without touching the request: an unknown tenant is the route's to answer.
  return resolveTenantId(app, { headers: request.headers }).catch(() => undefined);
}

function subjectOf(trigger: DetectionTrigger): string {
  return trigger.kind === 'sensitive_action'
    ? `${trigger.kind}|${trigger.userId}`
    : `${trigger.kind}|${trigger.ip}`;
}

/** Two triggers of one subject as one run: a large amount in either is a large amount in both. */
function mergeTriggers(pending: DetectionTrigger | undefined, trigger: DetectionTrigger): DetectionTrigger {
  if (pending?.kind !== 'sensitive_action' || trigger.kind !== 'sensitive_action') return trigger;
  const counts = [pending.velocityTransfers, trigger.velocityTransfers];
  return {
    ...trigger,
    largeAmount: pending.largeAmount || trigger.largeAmount,
    // Either uncounted: the run screens. Both counted: the later bound covers the earlier transfers.
    velocityTransfers: counts.includes(undefined) ? undefined : Math.max(...(counts as number[])),
  };
}

/**
 * Runs inline detections off the request's path: one run per tenant and trigger subject at a time and
 * at most one per DETECTION_INLINE_REPEAT_MS; a trigger arriving during a run or its pause makes it
 * run once more (so the last failure of a burst is counted); errors are logged, never thrown.
 */
function inlineRunner(app: FastifyInstance, services: DetectionServices) {
  const repeatMs = services.config.inlineRepeatMs;
  const running = new Map<string, { again: DetectionTrigger | undefined; done: Promise<void> }>();
  const runOnce = async (tenantId: string, trigger: DetectionTrigger) => {
    try {
      await detectAfterRequest(services, tenantId, trigger);
    } catch (error) {
      if (databaseUnavailable(error))
        app.log.warn({ rule_trigger: trigger.kind }, 'detection not run: database unavailable');
      else app.log.error({ err: error, rule_trigger: trigger.kind }, 'detection failed');
    }
  };
  const schedule = (tenantId: string, trigger: DetectionTrigger) => {
    const key = `${tenantId}|${subjectOf(trigger)}`;
    const current = running.get(key);
    if (current) {
      current.again = mergeTriggers(current.again, trigger);
      return;
    }
    if (running.size >= inlineRunsMax) return;
    const entry: { again: DetectionTrigger | undefined; done: Promise<void> } = {
      again: trigger,
      done: Promise.resolve(),
    };
    entry.done = (async () => {
      for (let next = entry.again; next; next = entry.again) {
        entry.again = undefined;
        await runOnce(tenantId, next);
        // Triggers during this pause fold into one more run: a busy subject costs one run per pause.
        if (repeatMs > 0) await sleep(repeatMs);
      }
      running.delete(key);
    })();
    running.set(key, entry);
  };
  const settled = async () => {
    while (running.size > 0) await Promise.all([...running.values()].map((entry) => entry.done));
  };
  return { schedule, settled };
}

function registerBlockCheck(app: FastifyInstance, controls: ActiveControlsCache): void {
  app.addHook('onRequest', async (request, reply) => {
    if (unblockedRoutes.has(request.routeOptions.url ?? '')) return;
    const tenantId = await tenantOf(app, request);
    if (!tenantId) return;
    const seconds = await controls.blockedSeconds(tenantId, request.ip);
    if (seconds === 0) return;
    reply.header('retry-after', String(seconds));
    throw new AppError('REQUEST_BLOCKED');
  });
}

function registerStepUpCheck(app: FastifyInstance, controls: ActiveControlsCache): void {
  app.addHook('preHandler', async (request) => {
    if (!sensitiveRoutes.has(routeKey(request))) return;
    const { tenantId, userId } = requestActor(request);
    const sessionId = requestSessionId(request);
    if (!tenantId || !userId || !sessionId) return;
    if (!(await controls.get(tenantId)).stepUpUserIds.has(userId)) return;
    const state = await withScope(app.database.db, { tenantId }, (transaction) =>
      settleStepUp(transaction, tenantId, userId, sessionId),
    );
    if (state === 'pending') throw new AppError('STEP_UP_REQUIRED');
    controls.forgetStepUp(tenantId, userId);
  });
}

/**
 * Detection with automatic response (issue 10 item 3), hooked from outside the modules it watches:
 * after a response, the rules its route and status concern run for its address or user (not awaited:
 * the response has gone and the request's latency is untouched); a scheduled sweep runs every rule
 * over the recent window. Before a request, a blocked address is refused 403 REQUEST_BLOCKED with
 * Retry-After (every route but the probes), and a user owing a step-up is refused STEP_UP_REQUIRED on
 * a sensitive route. Register after the authentication guard, so the verified token names the tenant.
 */
export function registerDetection(app: FastifyInstance): void {
  const config = app.config.security.detection;
  const controls = new ActiveControlsCache(app.database.db, config.blockCacheMs, (error) =>
    app.log.warn({ err: error }, 'detection controls not read; using the last copy'),
  );
  const services: DetectionServices = {
    db: app.database.db,
    database: app.database,
    config,
    largeAmountMinor: app.config.security.largeAmountMinor,
    metrics: app.metrics,
    onControlsChanged: (tenantId) => controls.invalidate(tenantId),
  };
  const runner = inlineRunner(app, services);
  app.decorate('detection', {
    sweep: () => sweepDetections(services),
    settled: runner.settled,
    controlsChanged: (tenantId: string) => controls.invalidate(tenantId),
  });
  if (!config.enabled) return;
  registerBlockCheck(app, controls);
  registerStepUpCheck(app, controls);
  // The 403's own security event is batched after the response (refusal-events.plugin.ts): the
  // repeated-403 rule waits one flush for it; the sweep catches any it still misses.
  const forbiddenDelayMs = app.config.security.accessLog.flushIntervalMs + 50;
  const delayed = new Set<NodeJS.Timeout>();
  app.addHook('onResponse', async (request, reply) => {
    const trigger = triggerOf(request, reply.statusCode, services.largeAmountMinor);
    if (!trigger) return;
    const tenantId = await tenantOf(app, request);
    if (!tenantId) return;
    if (trigger.kind !== 'forbidden') return runner.schedule(tenantId, trigger);
    if (delayed.size >= inlineRunsMax) return;
    const timer = setTimeout(() => {
      delayed.delete(timer);
      runner.schedule(tenantId, trigger);
    }, forbiddenDelayMs);
    timer.unref();
    delayed.add(timer);
  });
  app.addHook('onClose', async () => {
    for (const timer of delayed) clearTimeout(timer);
    delayed.clear();
    await runner.settled();
  });
}
