import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppInstance } from '../../app.ts';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { IdParamsSchema } from '../../platform/schema-types.ts';
import { IndicatorIndex } from './indicators.index.ts';
import { loadActiveIndicators } from './indicators.repository.ts';
import {
  ImportBodySchema,
  ImportResultSchema,
  IndicatorBodySchema,
  IndicatorChangesSchema,
  IndicatorListQuerySchema,
  IndicatorListSchema,
  IndicatorSchema,
  importBodyBytesMax,
} from './indicators.schemas.ts';
import {
  changeIndicator,
  createIndicator,
  type IndicatorServices,
  importIndicators,
  listTenantIndicators,
} from './indicators.service.ts';
import { listenForIndicatorChanges, registerThreatChecks } from './threat-check.plugin.ts';

const secured = [{ bearerAuth: [] }];
const tags = ['security', 'admin'];
const path = '/v1/admin/security/indicators';

/**
 * Threat intelligence (issue 10 item 5): one index per process, consulted by the checks on every
 * checked route (registered on the root, so they cover every module) and managed by staff here.
 */
export async function registerThreatIntel(app: AppInstance): Promise<void> {
  const index = new IndicatorIndex((tenantId) => loadActiveIndicators(app.database.db, tenantId));
  registerThreatChecks(app, index);
  listenForIndicatorChanges(app, index);
  await app.register(indicatorRoutes, { index });
}

const indicatorRoutes: FastifyPluginAsyncTypebox<{ index: IndicatorIndex }> = async (app, { index }) => {
  const services: IndicatorServices = { database: app.database, index };
  const contextOf = (
    request: Parameters<typeof requirePrincipal>[0] & Parameters<typeof auditContextFromRequest>[0],
  ) => auditContextFromRequest(request, requirePrincipal(request).tenantId);

  app.get(
    path,
    {
      config: { permission: 'audit:read' },
      schema: {
        tags,
        summary: "Staff: the tenant's indicators and the shared feeds, newest first",
        security: secured,
        querystring: IndicatorListQuerySchema,
        response: { 200: IndicatorListSchema, ...errorResponses('VALIDATION_FAILED') },
      },
    },
    async (request) => listTenantIndicators(services, requirePrincipal(request).tenantId, request.query),
  );
  app.post(
    path,
    {
      config: { permission: 'security:manage' },
      schema: {
        tags,
        summary: 'Staff: add an indicator (or refresh the one with the same type, value and source)',
        security: secured,
        body: IndicatorBodySchema,
        response: { 201: IndicatorSchema, ...errorResponses('VALIDATION_FAILED') },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await createIndicator(services, contextOf(request), request.body)),
  );
  app.patch(
    `${path}/:id`,
    {
      config: { permission: 'security:manage' },
      schema: {
        tags,
        summary: 'Staff: change or deactivate (is_active false) one of the tenant’s indicators',
        security: secured,
        params: IdParamsSchema('The indicator.'),
        body: IndicatorChangesSchema,
        response: { 200: IndicatorSchema, ...errorResponses('VALIDATION_FAILED', 'NOT_FOUND') },
      },
    },
    async (request) => changeIndicator(services, contextOf(request), request.params.id, request.body),
  );
  app.post(
    `${path}/import`,
    {
      config: { permission: 'security:manage' },
      bodyLimit: importBodyBytesMax + 64 * 1024,
      schema: {
        tags,
        summary: 'Staff: bulk import indicators from CSV or JSON, with a per-row error report',
        security: secured,
        body: ImportBodySchema,
        response: { 200: ImportResultSchema, ...errorResponses('VALIDATION_FAILED') },
      },
    },
    async (request) => importIndicators(services, contextOf(request), request.body),
  );
};
