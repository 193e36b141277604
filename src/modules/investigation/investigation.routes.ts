import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AppInstance } from '../../app.ts';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import type { Permission } from '../../platform/auth/permissions.ts';
import { callerOf, requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { IdParamsSchema } from '../../platform/schema-types.ts';
import {
  type ListName,
  type ListQuery,
  pageSchema,
  querySchema,
  ResolveEventBodySchema,
  rowSchemas,
  SecuritySummarySchema,
} from './investigation.schemas.ts';
import { pageAsCsv, readListPage, resolveEvent } from './investigation.service.ts';
import { readSecuritySummary } from './security-summary.service.ts';

const secured = [{ bearerAuth: [] }];

interface ListRoute {
  name: ListName;
  path: string;
  permission: Permission;
  summary: string;
  /** Own lists read as the caller (row-level security admits only their rows). */
  own: boolean;
}

const listRoutes: readonly ListRoute[] = [
  {
    name: 'auditLogs',
    path: '/v1/admin/audit-logs',
    permission: 'audit:read',
    own: false,
    summary: 'Staff: the audit log',
  },
  {
    name: 'loginAudits',
    path: '/v1/admin/login-audits',
    permission: 'audit:read',
    own: false,
    summary: 'Staff: login audits',
  },
  {
    name: 'securityEvents',
    path: '/v1/admin/security/events',
    permission: 'audit:read',
    own: false,
    summary: 'Staff: security events',
  },
  {
    name: 'apiAccessLog',
    path: '/v1/admin/api-access-log',
    permission: 'audit:read',
    own: false,
    summary: 'Staff: the API access log',
  },
  {
    name: 'rateLimitViolations',
    path: '/v1/admin/rate-limit-violations',
    permission: 'audit:read',
    own: false,
    summary: 'Staff: rate-limit violations',
  },
  {
    name: 'ownLoginHistory',
    path: '/v1/me/login-history',
    permission: 'activity:read_own',
    own: true,
    summary: 'Your logins and logouts',
  },
  {
    name: 'ownAuditLogs',
    path: '/v1/me/audit-logs',
    permission: 'activity:read_own',
    own: true,
    summary: 'The audit entries about you',
  },
];

function scopeOf(request: Parameters<typeof callerOf>[0], own: boolean) {
  return own ? callerOf(request).scope : { tenantId: requirePrincipal(request).tenantId };
}

function registerList(app: AppInstance, route: ListRoute): void {
  const config: { permission: Permission; sessionCheck?: 'with-read' } = { permission: route.permission };
  if (route.own) config.sessionCheck = 'with-read';
  const tags = route.own ? ['activity'] : ['investigation', 'admin'];
  app.get(
    route.path,
    {
      config,
      schema: {
        tags,
        summary: `${route.summary}, newest first, keyset-paginated`,
        security: secured,
        querystring: querySchema(route.name, false),
        response: { 200: pageSchema(route.name), ...errorResponses('VALIDATION_FAILED') },
      },
    },
    async (request) =>
      readListPage(app.database, route.name, scopeOf(request, route.own), request.query as ListQuery),
  );
}

function registerExport(app: AppInstance, route: ListRoute): void {
  const columns = Object.keys(rowSchemas[route.name].properties);
  app.get(
    `${route.path}/export`,
    {
      config: { permission: route.permission },
      schema: {
        tags: route.own ? ['activity'] : ['investigation', 'admin'],
        summary: `${route.summary} as CSV (the same filters; x-next-cursor names the next page)`,
        security: secured,
        querystring: querySchema(route.name, true),
        produces: ['text/csv'],
        response: errorResponses('VALIDATION_FAILED'),
      },
    },
    async (request, reply) => {
      const { rows, ...filters } = request.query as Omit<ListQuery, 'limit'> & { rows: number };
      const query: ListQuery = { ...filters, limit: rows };
      const page = await readListPage(app.database, route.name, scopeOf(request, route.own), query);
      if (page.next_cursor) reply.header('x-next-cursor', page.next_cursor);
      reply.header('content-disposition', `attachment; filename="${route.path.split('/').at(-1)}.csv"`);
      return reply.type('text/csv; charset=utf-8').send(pageAsCsv(columns, page));
    },
  );
}

/** Investigation (issue 10 item 8): staff lists of every log, and a customer's own history. */
export const investigationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  registerSummary(app);
  for (const route of listRoutes) {
    registerList(app, route);
    registerExport(app, route);
  }
  app.post(
    '/v1/admin/security/events/:id/resolve',
    {
      config: { permission: 'security:manage' },
      schema: {
        tags: ['investigation', 'admin'],
        summary: 'Staff: resolve a security event, or mark it a false positive, with notes',
        security: secured,
        params: IdParamsSchema('The security event.'),
        body: ResolveEventBodySchema,
        response: { 204: Type.Null(), ...errorResponses('NOT_FOUND', 'CONFLICT') },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const context = { ...auditContextFromRequest(request, principal.tenantId), adminId: principal.userId };
      await resolveEvent(app.database, context, request.params.id, request.body);
      return reply.code(204).send(null);
    },
  );
};

function registerSummary(app: AppInstance): void {
  app.get(
    '/v1/admin/security/summary',
    {
      config: { permission: 'audit:read' },
      schema: {
        tags: ['investigation', 'admin'],
        summary:
          'Staff: the alerting figures — errors, failed logins (per address), active users and sessions, open incidents, top offending addresses, large outgoing entries',
        security: secured,
        response: { 200: SecuritySummarySchema },
      },
    },
    async (request) =>
      readSecuritySummary(
        app.database,
        requirePrincipal(request).tenantId,
        app.config.security.largeAmountMinor,
      ),
  );
}
