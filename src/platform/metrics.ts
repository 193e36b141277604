import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { ExposureMode } from './exposure.ts';

/**
 * Prometheus metrics for one app. Each app owns its registry (never prom-client's global one) because
 * tests build many apps in one process and a global registry rejects a second metric of the same name.
 */
export interface AppMetrics {
  registry: Registry;
  httpRequestsTotal: Counter<'method' | 'route' | 'status_code'>;
  httpRequestDurationSeconds: Histogram<'method' | 'route' | 'status_code'>;
  /** Threat events created by the detection rules, by rule (issue 10 item 3). */
  detectionsTotal: Counter<'rule'>;
  /** Responses the detections ran (block, lock, step_up, escalate, alert). */
  responsesTotal: Counter<'action'>;
}

/** Requests that matched no route share one label, so random URLs cannot grow the series count. */
export const unmatchedRouteLabel = 'unmatched';

// From 5 ms to 10 s: the API's own work is milliseconds; anything past the request timeout is cut anyway.
const durationBucketsSeconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(): AppMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status_code'] as const;
  return {
    registry,
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
    responsesTotal: new Counter({
      name: 'corebank_detection_responses_total',
      help: 'Automatic responses run by the detection rules, by action.',
      labelNames: ['action'],
      registers: [registry],
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
