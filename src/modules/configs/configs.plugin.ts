import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../platform/errors.ts';
import { requestActor } from '../../platform/request-actor.ts';
import { resolveTenantId } from '../../platform/tenant-resolver.ts';
import { ConfigCache, type TenantConfigs } from './configs.cache.ts';
import { parseClientVersion, versionBelow } from './configs.catalog.ts';
import { configsRoutes } from './configs.routes.ts';

const safeMethods: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Writes that stay open in maintenance: signing in and out, so staff reach their routes and customers
 * keep reading their balances. Every other customer-facing write answers 503 MAINTENANCE_MODE.
 */
export const maintenanceOpenRoutes: ReadonlySet<string> = new Set([
  'POST /v1/auth/banking/login',
  'POST /v1/auth/banking/verify',
  'POST /v1/auth/email/login',
  'POST /v1/auth/refresh',
  'POST /v1/auth/logout',
  'POST /v1/auth/logout-all',
]);

const routeKey = (request: FastifyRequest) => `${request.method} ${request.routeOptions.url ?? ''}`;

/** A customer-facing write: not a read, not a staff route or caller, not signing in or out. */
function customerWrite(request: FastifyRequest): boolean {
  if (safeMethods.has(request.method)) return false;
  const url = request.routeOptions.url;
  if (url === undefined || url.startsWith('/v1/admin/') || maintenanceOpenRoutes.has(routeKey(request)))
    return false;
  return request.principal?.isStaff !== true;
}

function checkAppVersion(header: string | string[], configs: TenantConfigs): void {
  // A repeated header is no version.
  const version = typeof header === 'string' ? parseClientVersion(header) : undefined;
  if (!version)
    throw new AppError('VALIDATION_FAILED', undefined, [
      { field: 'headers.x-app-version', reason: 'must be a version MAJOR.MINOR.PATCH' },
    ]);
  const minimum = configs.get('min_app_version');
  if (minimum !== undefined && versionBelow(version, minimum)) throw new AppError('APP_UPDATE_REQUIRED');
}

/**
 * Configs (issue 12 item 4): the routes, and the two gates that read them on every request that
 * concerns them — `maintenance_mode` on customer-facing writes and `min_app_version` on requests that
 * send X-App-Version. Both read the per-process cache, so a change reaches every process within
 * CONFIG_CACHE_MS; a read or a request without the header costs nothing.
 */
export async function registerConfigs(app: FastifyInstance): Promise<void> {
  const cache = new ConfigCache(app.database.db, app.config.settings.cacheMs);
  const retryAfter = String(app.config.settings.maintenanceRetryAfterSeconds);
  await app.register(configsRoutes({ db: app.database.db, cache, consent: app.config.consent }));
  app.addHook('preHandler', async (request, reply) => {
    const header = request.headers['x-app-version'];
    const write = customerWrite(request);
    if (header === undefined && !write) return;
    const tenantId =
      requestActor(request).tenantId ?? (await resolveTenantId(app, request).catch(() => undefined));
    if (!tenantId) return;
    const configs = await cache.get(tenantId);
    if (header !== undefined) checkAppVersion(header, configs);
    if (write && configs.get('maintenance_mode') === 'true') {
      reply.header('retry-after', retryAfter);
      throw new AppError('MAINTENANCE_MODE');
    }
  });
}
