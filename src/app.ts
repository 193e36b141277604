import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyHttpOptions,
  type FastifyInstance,
  type FastifyServerOptions,
  type RawServerDefault,
} from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config/config.ts';
import type { DatabaseHandle } from './db/database.ts';
import { registerAccessLog } from './modules/access-log/access-log.plugin.ts';
import { alertRoutes } from './modules/alerts/alerts.routes.ts';
import { complianceRoutes } from './modules/compliance/compliance.routes.ts';
import { registerConfigs } from './modules/configs/configs.plugin.ts';
import { registerDetection } from './modules/detection/detection.plugin.ts';
import { healthRoutes } from './modules/health/health.routes.ts';
import { registerIdentity } from './modules/identity/identity.plugin.ts';
import { incidentRoutes } from './modules/incidents/incidents.routes.ts';
import { investigationRoutes } from './modules/investigation/investigation.routes.ts';
import { legalHoldsRoutes } from './modules/legal-holds/legal-holds.routes.ts';
import { registerMoney } from './modules/money.plugin.ts';
import { registerRateLimiting } from './modules/rate-limits/rate-limits.plugin.ts';
import { retentionRoutes } from './modules/retention/retention.routes.ts';
import { registerRefusalEvents } from './modules/security-events/refusal-events.plugin.ts';
import { registerThreatIntel } from './modules/threat-intel/indicators.routes.ts';
import { registerClientContext } from './platform/audit/client-context.ts';
import {
  answerServerErrors,
  handleClientError,
  registerErrorHandlers,
  sendError,
} from './platform/error-handler.ts';
import { AppError } from './platform/errors.ts';
import { registerExposureGuard } from './platform/exposure.ts';
import { connectionsCheckingIntervalMs, socketTimeoutMs } from './platform/http-timeouts.ts';
import { createLogger } from './platform/logger.ts';
import { type AppMetrics, createMetrics, registerMetrics } from './platform/metrics.ts';
import { registerOpenApi } from './platform/openapi.ts';
import { generateRequestId, requestIdHeader } from './platform/request-id.ts';
import { tagRequestLog } from './platform/request-log.ts';
import { registerPermissionCheck } from './platform/route-permission.ts';
import { registerSecurityHeaders } from './platform/security-headers.ts';
import { registerInputBoundary, requestValidatorBuilder } from './platform/validation.ts';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    database: DatabaseHandle;
    metrics: AppMetrics;
  }
}

/** The instance every module registers on: TypeBox schemas type each handler's request and reply. */
export type AppInstance = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface BuildAppOptions {
  config: Config;
  database: DatabaseHandle;
  /** A pino logger to use, false for none (tests); by default JSON to stdout at config.logLevel. */
  logger?: Logger | false;
}

function loggerOptions(options: BuildAppOptions): Pick<FastifyServerOptions, 'logger' | 'loggerInstance'> {
  if (options.logger === false) return { logger: false };
  return { loggerInstance: options.logger ?? createLogger(options.config) };
}

function serverOptions(options: BuildAppOptions): FastifyHttpOptions<RawServerDefault> {
  const { config } = options;
  return {
    ...loggerOptions(options),
    genReqId: generateRequestId,
    // The header is read (and checked) by genReqId; Fastify's own lookup would trust any value.
    // Every request's log lines carry the id as `reqId`, Fastify's default label.
    requestIdHeader: false,
    bodyLimit: config.bodyLimitBytes,
    // A slow or stalled client is answered 408 and cut off instead of holding a socket and its memory.
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: socketTimeoutMs(config.requestTimeoutMs),
    http: { connectionsCheckingInterval: connectionsCheckingIntervalMs(config.requestTimeoutMs) },
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // Fastify's own 503 while closing has its own body shape; registerShutdownRefusal answers instead.
    return503OnClosing: false,
    // What Node's parser rejects (408, 431, a malformed request) gets the error shape too.
    clientErrorHandler: handleClientError,
    // Behind a proxy, trusting X-Forwarded-For must be a deliberate choice (TRUST_PROXY); by default the
    // peer is the client. It sets request.ip, which per-address limits and audit rows read.
    trustProxy: config.trustProxy,
    schemaController: { compilersFactory: { buildValidator: requestValidatorBuilder } },
    // Errors Fastify raises before routing (a malformed URL) get the same shape as every other error.
    frameworkErrors: (error, request, reply) => {
      sendError(error, request, reply);
    },
  };
}

/**
 * While the server drains on shutdown, a request arriving on a kept-alive socket is answered 503
 * SERVICE_UNAVAILABLE (in the error shape) with `Connection: close`, so the client retries elsewhere.
 */
function registerShutdownRefusal(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    reply.header('connection', 'close');
    throw new AppError('SERVICE_UNAVAILABLE', 'The server is shutting down; retry the request.');
  });
}

/**
 * Builds the HTTP application with every plugin and module registered. It neither listens nor awaits
 * ready(), so tests can still add routes; the server entry point calls listen().
 */
export async function buildApp(options: BuildAppOptions): Promise<AppInstance> {
  const { config } = options;
  const app = Fastify(serverOptions(options)).withTypeProvider<TypeBoxTypeProvider>();
  app.decorate('config', config);
  app.decorate('database', options.database);
  const metrics = createMetrics();
  app.decorate('metrics', metrics);

  registerPermissionCheck(app);
  registerErrorHandlers(app, config.requestTimeoutMs);
  // Parser errors reach clientErrorHandler (serverOptions); an unmet Expect header needs a listener.
  answerServerErrors(app, app.server, false);
  registerShutdownRefusal(app);
  // Before the authentication guard (registered by registerIdentity): no hook may see such input.
  registerInputBoundary(app);
  registerClientContext(app);
  app.addHook('onRequest', async (request, reply) => {
    reply.header(requestIdHeader, request.id);
  });
  // preParsing runs after every onRequest hook, the authentication guard's included.
  app.addHook('preParsing', async (request, reply) => {
    tagRequestLog(request, reply);
  });
  registerExposureGuard(app, config.exposure);
  registerMetrics(app, metrics, config.exposure.metrics);
  registerAccessLog(app);
  registerRefusalEvents(app);
  const rateLimiting = await registerRateLimiting(app);
  rateLimiting.beforeAuthentication(app);

  registerSecurityHeaders(app, {
    contentSecurityPolicy: {
      // An HTTPS upgrade would break pages served by a plain-HTTP development server.
      directives: { upgradeInsecureRequests: config.environment === 'production' ? [] : null },
    },
  });
  await registerOpenApi(app, config);
  await app.register(healthRoutes);
  // Identity first among the modules: it installs the authentication guard every later route relies on.
  await registerIdentity(app);
  rateLimiting.afterAuthentication(app);
  // After the guard: a verified token names the tenant whose blocks and step-ups apply.
  registerDetection(app);
  await registerThreatIntel(app);
  await registerMoney(app);
  await registerConfigs(app);
  await app.register(investigationRoutes);
  await app.register(incidentRoutes);
  await app.register(legalHoldsRoutes);
  await app.register(alertRoutes);
  await app.register(retentionRoutes);
  await app.register(complianceRoutes);
  return app;
}
