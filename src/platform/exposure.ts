import { createHash, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  ConfigurationError,
  type Environment,
  readChoice,
  readInteger,
  readString,
  reportInvalid,
} from '../config/config-readers.ts';
import { answerServerErrors } from './error-handler.ts';
import { AppError } from './errors.ts';
import { connectionsCheckingIntervalMs, socketTimeoutMs } from './http-timeouts.ts';
import { documentationPrefix } from './openapi.ts';

/**
 * Who may read the API documentation (/docs, /openapi.json) and the Prometheus metrics (/metrics):
 * - off: the routes do not exist (404).
 * - public: anyone who reaches the port (the development default).
 * - token: `Authorization: Bearer <token>`, or HTTP Basic with the token as password (so a browser
 *   can open /docs); anything else is 401.
 * - admin-port: only on a second listener (ADMIN_HOST:ADMIN_PORT, loopback by default) that serves
 *   nothing else but the probes; on the public port they do not exist.
 * Production defaults to off for both: exposing either is an operator's decision, not an accident.
 */
export const exposureModes = ['off', 'public', 'token', 'admin-port'] as const;
export type ExposureMode = (typeof exposureModes)[number];

export interface ExposureConfig {
  docs: ExposureMode;
  docsToken: string | undefined;
  metrics: ExposureMode;
  metricsToken: string | undefined;
  adminHost: string;
  adminPort: number;
}

type Source = Record<string, string | undefined>;

/** Long enough not to be guessed, and plain enough to sit in a header. */
const tokenPattern = /^[\x21-\x7e]{32,256}$/;

function readToken(
  source: Source,
  name: string,
  mode: ExposureMode,
  modeVariable: string,
): string | undefined {
  const raw = source[name];
  if (mode !== 'token') return undefined;
  if (raw === undefined || raw === '')
    return reportInvalid(
      new ConfigurationError(name, `is required when ${modeVariable}=token (32-256 printable characters)`),
      undefined,
    );
  if (!tokenPattern.test(raw))
    return reportInvalid(
      new ConfigurationError(name, 'must be 32-256 printable ASCII characters without spaces'),
      undefined,
    );
  return raw;
}

export function readExposureConfig(source: Source, environment: Environment): ExposureConfig {
  const fallback: ExposureMode = environment === 'production' ? 'off' : 'public';
  const docs = readChoice(source, 'DOCS_EXPOSURE', fallback, exposureModes);
  const metrics = readChoice(source, 'METRICS_EXPOSURE', fallback, exposureModes);
  const adminPort = readInteger(source, 'ADMIN_PORT', 9464, 0, 65535);
  const usesAdminPort = docs === 'admin-port' || metrics === 'admin-port';
  // PORT itself is read (and reported when invalid) by loadConfig; only its text is compared here.
  const port = readString(source, 'PORT', '3000');
  if (usesAdminPort && adminPort !== 0 && String(adminPort) === port)
    reportInvalid(new ConfigurationError('ADMIN_PORT', `must differ from PORT (${port})`), undefined);
  return {
    docs,
    docsToken: readToken(source, 'DOCS_TOKEN', docs, 'DOCS_EXPOSURE'),
    metrics,
    metricsToken: readToken(source, 'METRICS_TOKEN', metrics, 'METRICS_EXPOSURE'),
    adminHost: readString(source, 'ADMIN_HOST', '127.0.0.1'),
    adminPort,
  };
}

export type ExposedSurface = 'docs' | 'metrics';

const probeUrls = new Set(['/health', '/ready']);

/** Which guarded surface a route belongs to, by its registered URL. */
export function exposedSurface(url: string | undefined): ExposedSurface | undefined {
  if (url === undefined) return undefined;
  if (url === '/metrics') return 'metrics';
  if (url === '/openapi.json' || url === documentationPrefix || url.startsWith(`${documentationPrefix}/`))
    return 'docs';
  return undefined;
}

// Raw requests that arrived on the admin listener; a WeakSet so a finished request is not kept alive.
const adminRequests = new WeakSet<IncomingMessage>();

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** The presented credential: a bearer token, or the password of HTTP Basic. */
function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || header.length > 1024) return undefined;
  if (header.startsWith('Bearer ')) return header.slice('Bearer '.length);
  if (header.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
    const separator = decoded.indexOf(':');
    return separator === -1 ? undefined : decoded.slice(separator + 1);
  }
  return undefined;
}

function tokenMatches(request: FastifyRequest, expected: string): boolean {
  const presented = presentedToken(request);
  // Digests have one length, so the comparison takes the same time whatever was presented.
  return presented !== undefined && timingSafeEqual(digest(presented), digest(expected));
}

const challenges: Record<ExposedSurface, string> = {
  docs: 'Basic realm="corebank docs", charset="UTF-8"',
  metrics: 'Bearer realm="corebank metrics"',
};

/**
 * Enforces the exposure of docs and metrics on every request, and keeps the admin listener to the
 * surfaces (and probes) it exists for. Register on the root instance before those routes.
 */
export function registerExposureGuard(app: FastifyInstance, exposure: ExposureConfig): void {
  app.addHook('onRequest', async (request, reply) => {
    const url = request.routeOptions.url;
    const surface = exposedSurface(url);
    const onAdminPort = adminRequests.has(request.raw);
    if (onAdminPort) {
      const allowed = surface !== undefined ? exposure[surface] === 'admin-port' : probeUrls.has(url ?? '');
      if (!allowed) throw new AppError('ROUTE_NOT_FOUND');
      return;
    }
    if (surface === undefined) return;
    const mode = exposure[surface];
    if (mode === 'admin-port' || mode === 'off') throw new AppError('ROUTE_NOT_FOUND');
    if (mode === 'token') {
      const expected = surface === 'docs' ? exposure.docsToken : exposure.metricsToken;
      if (expected === undefined || !tokenMatches(request, expected)) {
        reply.header('www-authenticate', challenges[surface]);
        throw new AppError('UNAUTHENTICATED');
      }
    }
  });
}

export function needsAdminListener(exposure: ExposureConfig): boolean {
  return exposure.docs === 'admin-port' || exposure.metrics === 'admin-port';
}

export interface AdminListener {
  address: string;
  close(): Promise<void>;
}

/**
 * The second listener of admin-port mode. It hands its requests to the same Fastify router (one set
 * of routes, hooks and metrics) after marking them, so the exposure guard can tell the ports apart.
 */
export async function listenAdminPort(
  app: FastifyInstance,
  exposure: ExposureConfig,
): Promise<AdminListener> {
  const checkingInterval = connectionsCheckingIntervalMs(app.config.requestTimeoutMs);
  const server = http.createServer({ connectionsCheckingInterval: checkingInterval }, (request, response) => {
    adminRequests.add(request);
    app.routing(request, response);
  });
  // The same timeouts as the public listener (app.ts).
  server.requestTimeout = app.config.requestTimeoutMs;
  server.setTimeout(socketTimeoutMs(app.config.requestTimeoutMs));
  answerServerErrors(app, server, true);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(exposure.adminPort, exposure.adminHost, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    address: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
