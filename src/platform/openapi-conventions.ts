import http from 'node:http';
import type { FastifySchema, RouteOptions } from 'fastify';
import { sensitiveRoutes, unblockedRoutes } from '../modules/detection/detection.scope.ts';
import { challengedRoutes } from '../modules/threat-intel/threat-check.scope.ts';
import {
  deviceFingerprintHeader,
  deviceFingerprintLengthMax,
  deviceFingerprintPattern,
} from './audit/client-context.ts';
import { type ErrorCode, errorCatalog } from './errors.ts';
import { UuidSchema } from './schema-types.ts';

/**
 * Conventions that fill the OpenAPI document for client generators, applied to every route by the
 * @fastify/swagger `transform` (documentation only; validation keeps the route's own schema):
 * an operationId from method and path, a description on every response, the x-tenant-id and
 * X-Device-Fingerprint headers, defaulted query parameters not required, and `x-error-codes`: the
 * catalog codes the operation can answer with, from the route's declaration (errorResponses) plus
 * those every route of its kind can — the app-wide hooks' refusals included, so no route forgets them.
 */

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A public route that resolves its tenant from x-tenant-id (logins, refresh): documents the header. */
    tenantHeader?: boolean;
  }
}

export const errorCodesKey = 'x-error-codes';

const verbs: Record<string, string> = {
  GET: 'get',
  POST: 'post',
  PUT: 'put',
  PATCH: 'patch',
  DELETE: 'delete',
};

function pascalCase(text: string): string {
  return text
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
}

/** `GET /v1/admin/users/:id/transactions` → `getAdminUsersByIdTransactions`: stable while the path is. */
export function operationIdFor(method: string, url: string): string {
  const segments = url
    .split('/')
    .filter((segment) => segment !== '' && segment !== 'v1')
    .map((segment) => (segment.startsWith(':') ? `By${pascalCase(segment.slice(1))}` : pascalCase(segment)));
  return `${verbs[method] ?? method.toLowerCase()}${segments.join('')}`;
}

function routeMethod(route: RouteOptions): string {
  return Array.isArray(route.method) ? String(route.method[0]) : String(route.method);
}

const bodylessMethods = new Set(['GET', 'HEAD']);

/** Codes any route of this kind can answer with, whatever its handler does. */
export function conventionalErrorCodes(route: RouteOptions): ErrorCode[] {
  const codes: ErrorCode[] = ['BAD_REQUEST', 'VALIDATION_FAILED', 'INTERNAL_ERROR', 'SERVICE_UNAVAILABLE'];
  if (!bodylessMethods.has(routeMethod(route)))
    codes.push('MALFORMED_JSON', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE');
  if (route.url.includes(':')) codes.push('URI_TOO_LONG');
  // The guard refuses a blocked staff member and a suspended tenant on every authenticated route.
  if (route.config?.permission !== 'public')
    codes.push('UNAUTHENTICATED', 'FORBIDDEN', 'ACCOUNT_BLOCKED', 'TENANT_SUSPENDED');
  if (route.config?.tenantHeader === true) codes.push('TENANT_NOT_FOUND', 'TENANT_SUSPENDED');
  // The hooks every route passes (app.ts): rate limits (rate-limits.plugin.ts), detection's address
  // blocks and step-ups (detection.plugin.ts) and the threat-intelligence checks (threat-check.plugin.ts,
  // a subset of the blocked routes). Their settings may turn them off; the document stays a superset.
  codes.push('RATE_LIMITED');
  if (!unblockedRoutes.has(route.url)) codes.push('REQUEST_BLOCKED');
  const key = `${routeMethod(route)} ${route.url}`;
  // A pending step-up (detection) or a medium indicator hit on a money movement (threat intelligence).
  if (sensitiveRoutes.has(key) || challengedRoutes.has(key)) codes.push('STEP_UP_REQUIRED');
  return codes;
}

export function documentsTenantHeader(route: RouteOptions): boolean {
  return route.config?.permission !== 'public' || route.config?.tenantHeader === true;
}

const TenantHeaderSchema = UuidSchema({
  description:
    'The tenant to act in; without it, the default tenant. With an access token it must be the token’s tenant.',
});

/** Read on every route by client-context.ts; a value out of these bounds is refused 400 VALIDATION_FAILED. */
const DeviceFingerprintHeaderSchema = {
  type: 'string',
  minLength: 1,
  maxLength: deviceFingerprintLengthMax,
  pattern: deviceFingerprintPattern,
  description:
    'An opaque identifier of the client device (an app install id, a browser fingerprint); optional. Stored only as a keyed hash.',
};

type ObjectSchema = { type?: string; properties?: Record<string, unknown>; required?: string[] };

/** The route's header schema plus an optional header (documentation only: validation keeps its own). */
function withHeader(headers: unknown, name: string, schema: unknown): ObjectSchema {
  const current = (headers ?? { type: 'object', properties: {} }) as ObjectSchema;
  return { ...current, properties: { ...current.properties, [name]: schema } };
}

/** A parameter with a default is optional to the caller, whatever the handler's type says. */
function withoutDefaultedRequired(part: unknown): unknown {
  const schema = part as ObjectSchema | undefined;
  if (!schema?.required || !schema.properties) return part;
  const properties = schema.properties as Record<string, { default?: unknown }>;
  return { ...schema, required: schema.required.filter((key) => properties[key]?.default === undefined) };
}

const successDescriptions: Record<string, string> = {
  200: 'Success',
  201: 'Created',
  202: 'Accepted: the rest happens in the background',
  204: 'Done; no content',
};

function errorDescription(status: number, codes: ErrorCode[]): string {
  const named = codes.map((code) => `\`${code}\` (${errorCatalog[code].message})`).join('; ');
  return `${http.STATUS_CODES[status] ?? 'Error'}. Error codes: ${named}`;
}

type ResponseMap = Record<string, { description?: string; [errorCodesKey]?: ErrorCode[] }>;

const catalogCodes = Object.keys(errorCatalog) as ErrorCode[];

/**
 * The route's declared codes (errorResponses) and the conventional ones, grouped by status. A status
 * declared without codes (`errorResponses(409)`) that no convention covers lists every catalog code of
 * that status: a superset, never a code the route can answer with but does not document.
 */
function codesByStatus(route: RouteOptions, responses: ResponseMap): Map<number, ErrorCode[]> {
  const codes = new Set<ErrorCode>(conventionalErrorCodes(route));
  for (const [status, response] of Object.entries(responses)) {
    if (status.startsWith('2')) continue;
    const declared = response[errorCodesKey] ?? [];
    for (const code of declared) codes.add(code);
    const covered = [...codes].some((code) => String(errorCatalog[code].status) === status);
    if (declared.length === 0 && !covered)
      for (const code of catalogCodes.filter((item) => String(errorCatalog[item].status) === status))
        codes.add(code);
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const { status } = errorCatalog[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return new Map([...byStatus].sort(([left], [right]) => left - right));
}

function documentedResponses(route: RouteOptions, summary: string, responses: ResponseMap) {
  const documented: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(responses)) {
    if (!status.startsWith('2')) continue;
    const fallback = `${successDescriptions[status] ?? 'Success'}: ${summary.charAt(0).toLowerCase()}${summary.slice(1)}.`;
    documented[status] = { ...response, description: response.description ?? fallback };
  }
  const byStatus = codesByStatus(route, responses);
  for (const [status, codes] of byStatus) {
    documented[status] = { $ref: 'ErrorResponse', description: errorDescription(status, codes) };
  }
  return { responses: documented, codes: [...byStatus.values()].flat().sort() };
}

/** The @fastify/swagger `transform`: the route's schema as documented, never as validated. */
export function documentRoute({
  schema,
  url,
  route,
}: {
  schema: FastifySchema;
  url: string;
  route: RouteOptions;
}) {
  if (!schema || (schema as { hide?: boolean }).hide) return { schema, url };
  const summary = (schema as { summary?: string }).summary ?? operationIdFor(routeMethod(route), route.url);
  const { responses, codes } = documentedResponses(route, summary, (schema.response ?? {}) as ResponseMap);
  const documented: FastifySchema & Record<string, unknown> = {
    ...schema,
    operationId:
      (schema as { operationId?: string }).operationId ?? operationIdFor(routeMethod(route), route.url),
    response: responses,
    [errorCodesKey]: codes,
  };
  if (schema.querystring) documented.querystring = withoutDefaultedRequired(schema.querystring);
  const headers = documentsTenantHeader(route)
    ? withHeader(schema.headers, 'x-tenant-id', TenantHeaderSchema)
    : schema.headers;
  documented.headers = withHeader(headers, deviceFingerprintHeader, DeviceFingerprintHeaderSchema);
  return { schema: documented, url };
}
