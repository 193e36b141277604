import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import {
  DataExportParamsSchema,
  DataExportRequestedSchema,
  DataExportStatusSchema,
} from './data-exports.schemas.ts';
import { downloadDataExport, readDataExport, requestDataExport } from './data-exports.service.ts';

const common = { tags: ['privacy'], security: [{ bearerAuth: [] }] };

/** GDPR data export (issue 11 item 5): request, follow and download an export of all your data. */
export const dataExportRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/me/data-export',
    {
      config: { permission: 'profile:read' },
      schema: {
        ...common,
        summary: 'Request an export of all your data (prepared in the background; follow it by its id)',
        response: {
          202: DataExportRequestedSchema,
          ...errorResponses('DATA_EXPORT_PENDING', 'DATA_EXPORT_RATE_LIMITED'),
        },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const created = await requestDataExport(
        app,
        principal,
        auditContextFromRequest(request, principal.tenantId),
      );
      reply.code(202);
      return { id: created.id, status: created.status, requested_at: created.requested_at.toISOString() };
    },
  );

  app.get(
    '/v1/me/data-export/:id',
    {
      config: { permission: 'profile:read' },
      schema: {
        ...common,
        summary: 'The status of one of your data exports',
        params: DataExportParamsSchema,
        response: { 200: DataExportStatusSchema, ...errorResponses('NOT_FOUND') },
      },
    },
    async (request) => readDataExport(app, requirePrincipal(request), request.params.id),
  );

  app.get(
    '/v1/me/data-export/:id/download',
    {
      config: { permission: 'profile:read' },
      schema: {
        ...common,
        summary: 'Download a ready data export: one JSON document with a section per category',
        params: DataExportParamsSchema,
        produces: ['application/json'],
        response: errorResponses('NOT_FOUND', 'DATA_EXPORT_NOT_READY'),
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const context = auditContextFromRequest(request, principal.tenantId);
      const { archive, sha256 } = await downloadDataExport(app, principal, context, request.params.id);
      reply.header('content-disposition', `attachment; filename="data-export-${request.params.id}.json"`);
      reply.header('x-content-sha256', sha256);
      return reply.type('application/json; charset=utf-8').send(archive);
    },
  );
};
