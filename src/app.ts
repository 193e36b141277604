import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from '@fastify/helmet';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  type RawServerDefault,
} from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config/config.ts';
import type { DatabaseHandle } from './db/database.ts';
import { healthRoutes } from './modules/health/health.routes.ts';
import { registerIdentity } from './modules/identity/identity.plugin.ts';
import { registerMoney } from './modules/operations/money.plugin.ts';
import { registerErrorHandlers, sendError } from './platform/error-handler.ts';
import { createLogger } from './platform/logger.ts';
import { type AppMetrics, createMetrics, registerMetrics } from './platform/metrics.ts';
import { registerOpenApi } from './platform/openapi.ts';
import { generateRequestId, requestIdHeader } from './platform/request-id.ts';
import { tagRequestLog } from './platform/request-log.ts';
import { registerPermissionCheck } from './platform/route-permission.ts';
import { requestValidatorBuilder } from './platform/validation.ts';

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

function serverOptions(options: BuildAppOptions): FastifyServerOptions {
  const { config } = options;
  return {
    ...loggerOptions(options),
    genReqId: generateRequestId,
    // The header is read (and checked) by genReqId; Fastify's own lookup would trust any value.
    // Every request's log lines carry the id as `reqId`, Fastify's default label.
    requestIdHeader: false,
    bodyLimit: config.bodyLimitBytes,
    // A slow or stalled client is cut off instead of holding a socket and its memory forever.
    connectionTimeout: config.requestTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    return503OnClosing: true,
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
  registerErrorHandlers(app);
  app.addHook('onRequest', async (request, reply) => {
    reply.header(requestIdHeader, request.id);
  });
  // preParsing runs after every onRequest hook, the authentication guard's included.
  app.addHook('preParsing', async (request, reply) => {
    tagRequestLog(request, reply);
  });
  registerMetrics(app, metrics);

  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      // An HTTPS upgrade would break pages served by a plain-HTTP development server.
      directives: { upgradeInsecureRequests: config.environment === 'production' ? [] : null },
    },
  });
  await registerOpenApi(app, config);
  await app.register(healthRoutes);
  // Identity first among the modules: it installs the authentication guard every later route relies on.
  await registerIdentity(app);
  await registerMoney(app);
  return app;
}
