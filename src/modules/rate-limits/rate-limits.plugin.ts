import { isIP } from 'node:net';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import { Counter } from 'prom-client';
import { backgroundQueue } from '../../platform/background-queue.ts';
import { AppError } from '../../platform/errors.ts';
import { addressNetwork } from '../../platform/ip-network.ts';
import { requestActor, requestSessionId } from '../../platform/request-actor.ts';
import { type TenantEntry, writePerTenant } from '../../platform/tenant-batches.ts';
import { printableText } from '../../platform/text-input.ts';
import { type CounterOutcome, LeasedCounter } from './leased-counter.ts';
import { insertViolations, type ViolationRow } from './rate-limits.repository.ts';
import { adaptiveLimit, TrustMultipliers } from './trust-multipliers.ts';

/**
 * Request rate limits (issue 10 item 6): @fastify/rate-limit's in-memory counters by default; in
 * Redis when REDIS_URL is set, so every server process counts against the same limit, claimed in
 * leases of up to 1/16 of what remains (leased-counter.ts: one atomic INCRBY per lease, exact at the
 * maximum). Three limits, each a fixed window of RATE_LIMIT_WINDOW_MS:
 *   ip   — every request from one client address (checked before authentication),
 *   auth — requests from one address to the login, registration and token routes,
 *   user — every request by one signed-in user (checked once the token is verified).
 * A request over a limit is answered 429 RATE_LIMITED with Retry-After; every answer carries the
 * IETF draft RateLimit-Limit / -Remaining / -Reset headers of the tightest limit it was counted
 * against. The first rejection of a key in a window lands in rate_limit_violations (batched).
 * When Redis does not answer, requests are let through (counted in corebank_rate_limit_errors_total
 * and logged): the lockouts and send limits that guard credentials live in the database.
 */

type Kind = 'ip' | 'auth' | 'user';
/** One request counted against one limit; undefined when the limit does not count it. */
type Checker = (request: FastifyRequest) => Promise<CounterOutcome | undefined>;
type Limit = {
  max: number | ((request: FastifyRequest) => number);
  key: (request: FastifyRequest) => string;
};

const authRoutePattern = /^\/v1\/(admin\/)?auth\//;
const recordedKeysMax = 10_000;
/** How long a process counts a user at the trust multiplier it read (a lowered score applies within it). */
const trustMultiplierMaxAgeMs = 60_000;

export interface RateLimiting {
  /** Registered before the authentication guard: the per-address limits. */
  beforeAuthentication(app: FastifyInstance): void;
  /** Registered after it: the per-user limit (the token's user, verified). */
  afterAuthentication(app: FastifyInstance): void;
}

export async function registerRateLimiting(app: FastifyInstance): Promise<RateLimiting> {
  const settings = app.config.security.rateLimit;
  if (!settings.enabled) return { beforeAuthentication: () => {}, afterAuthentication: () => {} };
  const redis = app.config.redisUrl ? await connectRedis(app, app.config.redisUrl) : undefined;
  await app.register(rateLimit, {
    global: false,
    // Store errors reach apply() below, which counts and logs them and lets the request through.
    skipOnError: false,
    timeWindow: settings.windowMs,
    // The in-memory store keeps this many keys (least recently used out): room for a busy process.
    // With Redis the counts are leased instead (leased-counter.ts) and this store is not used.
    cache: 100_000,
  });
  const errors = rateLimitErrors(app);
  const rejected = app.metrics.rateLimitRejectionsTotal;
  const recorder = violationRecorder(app);
  const limits: Record<Kind, Limit> = {
    ip: { max: settings.ipRequestsMax, key: (request) => `ip:${clientKey(request.ip)}` },
    auth: { max: settings.authRequestsMax, key: (request) => `auth:${clientKey(request.ip)}` },
    user: { max: userLimit(app), key: (request) => `user:${signedInUser(request) ?? clientKey(request.ip)}` },
  };
  const checkers = redis ? leasedCheckers(redis, settings.windowMs, limits) : memoryCheckers(app, limits);
  const apply = async (request: FastifyRequest, reply: FastifyReply, kinds: readonly Kind[]) => {
    for (const kind of kinds) {
      let outcome: CounterOutcome | undefined;
      try {
        outcome = await checkers[kind](request);
      } catch (error) {
        errors.inc();
        request.log.warn({ err: error }, 'rate limit not checked: the store did not answer');
        continue;
      }
      if (!outcome) continue;
      setHeaders(reply, outcome);
      if (outcome.exceeded) {
        rejected.inc({ limit: kind });
        recorder.record(request, kind, outcome);
        reply.header('retry-after', String(secondsOf(outcome.ttlMs)));
        throw new AppError('RATE_LIMITED');
      }
    }
  };
  app.addHook('onClose', async () => {
    await recorder.close();
    redis?.disconnect();
  });
  return {
    beforeAuthentication: (root) => {
      root.addHook('onRequest', async (request, reply) => {
        const url = request.routeOptions.url ?? '';
        await apply(request, reply, authRoutePattern.test(url) ? ['ip', 'auth'] : ['ip']);
      });
    },
    afterAuthentication: (root) => {
      root.addHook('onRequest', async (request, reply) => {
        if (signedInUser(request)) await apply(request, reply, ['user']);
      });
    },
  };
}

/** One process's limits: @fastify/rate-limit's in-memory store. */
function memoryCheckers(app: FastifyInstance, limits: Record<Kind, Limit>): Record<Kind, Checker> {
  const checker = (limit: Limit): Checker => {
    const check = app.createRateLimit({ max: limit.max, keyGenerator: limit.key });
    return async (request) => {
      const outcome = await check(request);
      if (outcome.isAllowed) return undefined;
      const { key, max, remaining, ttl, isExceeded } = outcome;
      return { key, max, remaining, ttlMs: ttl, exceeded: isExceeded };
    };
  };
  return { ip: checker(limits.ip), auth: checker(limits.auth), user: checker(limits.user) };
}

/** Every process's limits: one shared count per key in Redis, claimed in leases. */
function leasedCheckers(redis: Redis, windowMs: number, limits: Record<Kind, Limit>): Record<Kind, Checker> {
  const counter = new LeasedCounter(redis, windowMs, 'corebank-rate-limit:');
  const checker =
    (limit: Limit): Checker =>
    (request) =>
      counter.take(limit.key(request), typeof limit.max === 'number' ? limit.max : limit.max(request));
  return { ip: checker(limits.ip), auth: checker(limits.auth), user: checker(limits.user) };
}

function secondsOf(ms: number): number {
  return Math.ceil(ms / 1000);
}

function rateLimitErrors(app: FastifyInstance): Counter {
  return new Counter({
    name: 'corebank_rate_limit_errors_total',
    help: 'Rate-limit checks that failed (the store did not answer) and let the request through.',
    registers: [app.metrics.registry],
  });
}

/** The per-user maximum: the base, times the user's trust multiplier when limits are adaptive. */
function userLimit(app: FastifyInstance): number | ((request: FastifyRequest) => number) {
  const settings = app.config.security.rateLimit;
  if (!settings.adaptive) return settings.userRequestsMax;
  const multipliers = new TrustMultipliers(app.database.db, trustMultiplierMaxAgeMs);
  return (request) => {
    const { tenantId, userId } = requestActor(request);
    const sessionId = requestSessionId(request);
    const multiplier = tenantId && userId ? multipliers.multiplier(tenantId, userId, sessionId) : 1;
    return adaptiveLimit(settings.userRequestsMax, multiplier);
  };
}

/** The client a per-address limit counts: an IPv4 address, or the /64 network of an IPv6 one. */
function clientKey(ip: string): string {
  return addressNetwork(ip, 64);
}

function signedInUser(request: FastifyRequest): string | undefined {
  const principal = request.principal;
  if (principal) return `${principal.tenantId}:${principal.userId}`;
  const claims = request.claims;
  return claims ? `${claims.tenantId}:${claims.userId}` : undefined;
}

/** The tightest limit so far wins the headers: the one with the fewest requests remaining. */
function setHeaders(reply: FastifyReply, outcome: CounterOutcome): void {
  const current = Number(reply.getHeader('ratelimit-remaining') ?? Number.POSITIVE_INFINITY);
  if (outcome.remaining > current) return;
  reply.header('ratelimit-limit', String(outcome.max));
  reply.header('ratelimit-remaining', String(outcome.remaining));
  reply.header('ratelimit-reset', String(secondsOf(outcome.ttlMs)));
}

/**
 * Connects before the server takes requests: without the offline queue a check made before the
 * connection is up fails open, so a freshly started process used to let every request through until
 * Redis answered (seen as a CI flake: 24 of 24 requests over a limit of 20 allowed). A Redis that
 * does not answer does not stop the start: connectTimeout bounds the TCP connection and commandTimeout
 * each handshake command (a listener that accepts and never answers took 2.5 s, measured); ioredis
 * keeps reconnecting.
 */
async function connectRedis(app: FastifyInstance, url: string): Promise<Redis> {
  const redis = new Redis(url, {
    // A check waits at most this long for Redis; then the request goes through (skipOnError).
    connectTimeout: 1000,
    commandTimeout: 500,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    lazyConnect: true,
  });
  redis.on('error', (error) => app.log.warn({ err: error }, 'redis (rate limits) error'));
  try {
    await redis.connect();
  } catch (error) {
    app.log.warn({ err: error }, 'redis (rate limits) not reached at start: limits fail open until it is');
  }
  return redis;
}

type ViolationEntry = TenantEntry<Omit<ViolationRow, 'tenant_id'>>;

/** Records the first rejection of each key per window, in batches (BatchQueue). */
function violationRecorder(app: FastifyInstance) {
  const settings = app.config.security.rateLimit;
  const recorded = new Map<string, number>();
  const queue = backgroundQueue<ViolationEntry>(app, {
    queue: 'rate_limit_violations',
    holds: 'rate-limit violations',
    entriesMax: 10_000,
    batchEntriesMax: 200,
    write: (entries, onUnfiled) => writePerTenant(app, entries, insertViolations, onUnfiled),
  });
  return {
    record(request: FastifyRequest, kind: Kind, outcome: CounterOutcome): void {
      const now = Date.now();
      if ((recorded.get(outcome.key) ?? 0) > now || !isIP(request.ip)) return;
      if (recorded.size >= recordedKeysMax) recorded.clear();
      recorded.set(outcome.key, now + outcome.ttlMs);
      const userAgent = request.headers['user-agent'];
      queue.push({
        tenantId: requestActor(request).tenantId,
        row: {
          created_at: new Date(now),
          user_id: requestActor(request).userId,
          ip_address: request.ip,
          endpoint: printableText(
            (request.routeOptions.url ?? request.url.split('?')[0] ?? '/').slice(0, 255),
          ),
          request_count: outcome.max + 1,
          limit_threshold: outcome.max,
          time_window_minutes: Math.max(1, Math.ceil(settings.windowMs / 60_000)),
          violation_type: kind,
          user_agent: typeof userAgent === 'string' ? printableText(userAgent.slice(0, 500)) : null,
          blocked_duration_minutes: Math.ceil(outcome.ttlMs / 60_000),
        },
      });
    },
    close: () => queue.close(),
  };
}
