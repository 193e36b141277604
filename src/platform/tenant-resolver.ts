import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../config/config.ts';
import type { DatabaseHandle } from '../db/database.ts';
import { AppError } from './errors.ts';

export const tenantHeader = 'x-tenant-id';

/**
 * Tenants change rarely and every request needs one, so lookups are cached briefly. A suspension takes
 * effect within the TTL everywhere, or at once in a process that calls forgetCachedTenants.
 */
export const tenantCacheTtlMs = 30_000;
export const tenantCacheEntriesMax = 1000;

interface CacheEntry {
  tenantId: string;
  expiresAtMs: number;
}

type TenantCache = Map<string, CacheEntry>;

// Keyed by database handle: the tenants a process sees are those of the database it talks to.
const caches = new WeakMap<DatabaseHandle, TenantCache>();

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What resolution needs from the app; a FastifyInstance from buildApp satisfies it. */
export interface TenantResolverContext {
  database: DatabaseHandle;
  config: Pick<Config, 'defaultTenantSlug'>;
}

/**
 * The active tenant a request acts for: the `x-tenant-id` header when present (it must name an active
 * tenant by uuid), otherwise the configured default tenant. Throws TENANT_SUSPENDED for a suspended
 * tenant and TENANT_NOT_FOUND for anything else.
 */
export async function resolveTenantId(
  app: TenantResolverContext,
  request: { headers: IncomingHttpHeaders; resolvedTenantId?: string | undefined },
): Promise<string> {
  const header = request.headers[tenantHeader];
  if (header === undefined) {
    request.resolvedTenantId = await findActiveTenant(app.database, 'slug', app.config.defaultTenantSlug);
    return request.resolvedTenantId;
  }
  if (typeof header !== 'string' || !uuidPattern.test(header)) {
    throw new AppError('TENANT_NOT_FOUND', undefined, [
      { field: `headers.${tenantHeader}`, reason: 'must be the uuid of an active tenant' },
    ]);
  }
  request.resolvedTenantId = await findActiveTenant(app.database, 'id', header.toLowerCase());
  return request.resolvedTenantId;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The tenant an unauthenticated request (a login, a registration) was resolved to, once it was. */
    resolvedTenantId?: string | undefined;
  }
}

/** Drops every cached lookup, e.g. right after a tenant is suspended. */
export function forgetCachedTenants(database: DatabaseHandle): void {
  caches.get(database)?.clear();
}

async function findActiveTenant(
  database: DatabaseHandle,
  column: 'id' | 'slug',
  value: string,
): Promise<string> {
  const cache = cacheFor(database);
  const key = `${column}:${value}`;
  const cached = cache.get(key);
  if (cached && cached.expiresAtMs > Date.now()) return cached.tenantId;
  cache.delete(key);
  const row = await database.db
    .selectFrom('tenants')
    .select(['id', 'status'])
    .where(column, '=', value)
    .executeTakeFirst();
  // Misses are not cached: a tenant created a moment ago must work at once, and a miss costs one index probe.
  if (!row) throw new AppError('TENANT_NOT_FOUND');
  // The same code the guard answers for the tenant's tokens (issue 7.4). The login and refresh services
  // check the status again inside their transactions, so a suspension applies there at once too.
  if (row.status !== 'active') throw new AppError('TENANT_SUSPENDED');
  remember(cache, key, row.id);
  return row.id;
}

function cacheFor(database: DatabaseHandle): TenantCache {
  let cache = caches.get(database);
  if (!cache) {
    cache = new Map();
    caches.set(database, cache);
  }
  return cache;
}

function remember(cache: TenantCache, key: string, tenantId: string): void {
  // A Map iterates in insertion order, so its first key is the oldest entry.
  if (cache.size >= tenantCacheEntriesMax) {
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
  cache.set(key, { tenantId, expiresAtMs: Date.now() + tenantCacheTtlMs });
}
