import type { FastifyInstance, RouteOptions } from 'fastify';
import { documentationPrefix } from './openapi.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The permission a caller needs for this route, or 'public'. Every route must declare one, so the
     * identity module can enforce it and a forgotten declaration is a startup failure, not an open route.
     */
    permission?: string;
    /**
     * 'in-statement': the guard verifies the access token only and leaves the session check to the
     * route's own database statement (a transfer checks it in the statement that moves the money, so
     * the request costs one round trip). Such a route reads `request.claims`, never `request.principal`.
     *
     * 'with-read': the guard verifies the token and defers the session check to the route's first
     * scoped read, which sends it in the same round trip (readInScope with `callerScope(request)`).
     * The guard wraps the handler: a body or query failing its schema, an error, or a handler that
     * read nothing all get the full session check before anything is answered.
     */
    sessionCheck?: 'guard' | 'in-statement' | 'with-read';
  }
}

export const publicPermission = 'public';

/** @fastify/swagger-ui registers its routes without a way to pass route config; the docs are public. */
function isDocumentationRoute(url: string): boolean {
  return url === documentationPrefix || url.startsWith(`${documentationPrefix}/`);
}

export class MissingPermissionError extends Error {
  constructor(method: string, url: string) {
    super(`Route ${method} ${url} declares no config.permission; use '${publicPermission}' for open routes.`);
    this.name = 'MissingPermissionError';
  }
}

function assertPermissionDeclared(route: RouteOptions): void {
  const permission = route.config?.permission;
  if (typeof permission === 'string' && permission.length > 0) return;
  if (isDocumentationRoute(route.url)) {
    route.config = { ...route.config, permission: publicPermission };
    return;
  }
  const method = Array.isArray(route.method) ? route.method.join(',') : route.method;
  throw new MissingPermissionError(method, route.url);
}

/** Checks every route registered after this call, in this instance and all its child plugins. */
export function registerPermissionCheck(app: FastifyInstance): void {
  app.addHook('onRoute', assertPermissionDeclared);
}
