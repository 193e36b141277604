import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ExposureMode } from './exposure.ts';

/**
 * Prometheus metrics for one app. Each app owns its registry (never prom-client's global one) because
 * tests build many apps in one process and a global registry rejects a second metric of the same name.
 */
export interface AppMetrics {
  registry: Registry;
  httpRequestsTotal: Counter<'method' | 'route' | 'status_code'>;
  httpRequestDurationSeconds: Histogram<'method' | 'route' | 'status_code'>;
  /** Security events recorded (issue 10 item 10), by event type and severity. */
  securityEventsTotal: Counter<'type' | 'severity'>;
  /** corebank_rate_limit_rejections_total: requests answered 429 by a rate limit (rate-limits.plugin.ts). */
  rateLimitRejectionsTotal: Counter<'limit'>;
  /** corebank_access_log_written_total: API access log rows written. */
  accessLogWrittenTotal: Counter;
  /** corebank_access_log_dropped_total: access log entries dropped, by reason. */
  accessLogDroppedTotal: Counter<'reason'>;
  /** corebank_background_queue_dropped_total: entries any background queue dropped, by queue and reason. */
  backgroundQueueDroppedTotal: Counter<'queue' | 'reason'>;
  /** corebank_alert_deliveries_total: alert sends by sink and outcome (delivered, retry, dead). */
  alertDeliveriesTotal: Counter<'sink' | 'outcome'>;
  /**
   * Registers how to read a background queue's depth: corebank_background_queue_depth{queue} (and
   * corebank_access_log_queue_depth for the access log) read it when scraped.
   */
  watchQueueDepth(queue: BackgroundQueueName, depth: () => number): void;
  /** Threat events created by the detection rules, by rule (issue 10 item 3). */
  detectionsTotal: Counter<'rule'>;
  /** Responses the detections ran (block, lock, step_up, escalate, alert). */
  responsesTotal: Counter<'action'>;
  /** Inline runs after a sensitive action, by whether its screen let rules run (`ran`) or not (`screened_out`). */
  detectionScreensTotal: Counter<'outcome'>;
}

/** The in-memory queues written in the background (src/platform/background-queue.ts). */
export type BackgroundQueueName = 'access_log' | 'refusal_events' | 'rate_limit_violations';

/** Requests that matched no route share one label, so random URLs cannot grow the series count. */
export const unmatchedRouteLabel = 'unmatched';

// From 5 ms to 10 s: the API's own work is milliseconds; anything past the request timeout is cut anyway.
const durationBucketsSeconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(): AppMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status_code'] as const;
  const depths = new Map<BackgroundQueueName, () => number>();
  registerQueueDepthGauges(registry, depths);
  return {
    registry,
    ...securityMetrics(registry),
    watchQueueDepth: (queue, depth) => {
      depths.set(queue, depth);
    },
    httpRequestsTotal: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code.',
      labelNames,
      registers: [registry],
    }),
    httpRequestDurationSeconds: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from receiving a request to finishing its response, by route pattern.',
      labelNames,
      buckets: durationBucketsSeconds,
      registers: [registry],
    }),
    detectionsTotal: new Counter({
      name: 'corebank_detections_total',
      help: 'Threat events created by the detection rules, by rule.',
      labelNames: ['rule'],
      registers: [registry],
    }),
    detectionScreensTotal: new Counter({
      name: 'corebank_detection_screens_total',
      help: "Inline detection runs after a sensitive action: ran (rules ran), screened_out (its one-read screen found no rule to run), counted_out (the transfer statement's velocity count ruled every rule out, no read).",
      labelNames: ['outcome'],
      registers: [registry],
    }),
    responsesTotal: new Counter({
      name: 'corebank_detection_responses_total',
      help: 'Automatic responses run by the detection rules, by action.',
      labelNames: ['action'],
      registers: [registry],
    }),
  };
}

/** Gauges read when scraped: a queue's depth is a number in memory, not an event to count. */
function registerQueueDepthGauges(
  registry: Registry,
  depths: ReadonlyMap<BackgroundQueueName, () => number>,
) {
  new Gauge({
    name: 'corebank_background_queue_depth',
    help: 'Entries waiting in a background queue (access log, refusal events, rate-limit violations).',
    labelNames: ['queue'],
    registers: [registry],
    collect() {
      for (const [queue, depth] of depths) this.set({ queue }, depth());
    },
  });
  new Gauge({
    name: 'corebank_access_log_queue_depth',
    help: 'API access log entries waiting to be written.',
    registers: [registry],
    collect() {
      this.set(depths.get('access_log')?.() ?? 0);
    },
  });
}

/** The security-operations counters (issue 10 item 10); docs/security.md lists them. */
function securityMetrics(registry: Registry) {
  const registers = [registry];
  return {
    securityEventsTotal: new Counter({
      name: 'corebank_security_events_total',
      help: 'Security events recorded, by event type and severity.',
      labelNames: ['type', 'severity'] as const,
      registers,
    }),
    rateLimitRejectionsTotal: new Counter({
      name: 'corebank_rate_limit_rejections_total',
      help: 'Requests answered 429 by a rate limit, by limit.',
      labelNames: ['limit'] as const,
      registers,
    }),
    accessLogWrittenTotal: new Counter({
      name: 'corebank_access_log_written_total',
      help: 'API access log rows written.',
      registers,
    }),
    accessLogDroppedTotal: new Counter({
      name: 'corebank_access_log_dropped_total',
      help: 'API access log entries dropped: the queue was full, or a batch failed with no room to retry.',
      labelNames: ['reason'] as const,
      registers,
    }),
    backgroundQueueDroppedTotal: new Counter({
      name: 'corebank_background_queue_dropped_total',
      help: 'Entries a background queue dropped, by queue and reason (queue_full, write_failed, closed, no_tenant).',
      labelNames: ['queue', 'reason'] as const,
      registers,
    }),
    alertDeliveriesTotal: new Counter({
      name: 'corebank_alert_deliveries_total',
      help: 'Alert sends by sink and outcome: delivered, retry (failed, tried again later) or dead.',
      labelNames: ['sink', 'outcome'] as const,
      registers,
    }),
  };
}

function routeLabel(request: FastifyRequest): string {
  if (request.is404) return unmatchedRouteLabel;
  return request.routeOptions.url ?? unmatchedRouteLabel;
}

function recordResponse(metrics: AppMetrics, request: FastifyRequest, reply: FastifyReply): void {
  const labels = {
    method: request.method,
    route: routeLabel(request),
    status_code: String(reply.statusCode),
  };
  metrics.httpRequestsTotal.inc(labels);
  metrics.httpRequestDurationSeconds.observe(labels, reply.elapsedTime / 1000);
}

/**
 * Counts every response and serves the registry at GET /metrics in the Prometheus text format, unless
 * METRICS_EXPOSURE=off; who may read it is the exposure guard's decision (exposure.ts).
 */
export function registerMetrics(app: FastifyInstance, metrics: AppMetrics, exposure: ExposureMode): void {
  app.addHook('onResponse', async (request, reply) => recordResponse(metrics, request, reply));
  if (exposure === 'off') return;
  app.get(
    '/metrics',
    {
      // Scrapers carry no user credentials: METRICS_EXPOSURE (token, admin port) guards this route.
      config: { permission: 'public' },
      schema: { hide: true },
    },
    async (_request, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
}
