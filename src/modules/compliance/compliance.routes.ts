import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { AppInstance } from '../../app.ts';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { IdParamsSchema } from '../../platform/schema-types.ts';
import {
  DownloadQuerySchema,
  ReportBodySchema,
  ReportListQuerySchema,
  ReportListSchema,
  ReportSchema,
  SubmissionBodySchema,
  VerificationSchema,
} from './compliance.schemas.ts';
import {
  complianceSettings,
  downloadReport,
  generateReport,
  listTenantReports,
  readReport,
  recordSubmission,
  verifyReport,
} from './compliance.service.ts';

const secured = [{ bearerAuth: [] }];
const tags = ['compliance', 'admin'];
const path = '/v1/admin/compliance/reports';
const reportParams = IdParamsSchema('The compliance report.');

const tenantOf = (request: Parameters<typeof requirePrincipal>[0]) => requirePrincipal(request).tenantId;
const contextOf = (request: FastifyRequest) => auditContextFromRequest(request, tenantOf(request));

/** Compliance reports (issue 11 item 4): generated on demand, stored hashed, downloaded, verified, submitted. */
export const complianceRoutes: FastifyPluginAsyncTypebox = async (app) => {
  registerReads(app);
  registerWrites(app);
};

function registerReads(app: AppInstance): void {
  const db = app.database.db;
  app.get(
    path,
    {
      config: { permission: 'compliance:read' },
      schema: {
        tags,
        summary: 'Staff: compliance reports, newest first (without their data)',
        security: secured,
        querystring: ReportListQuerySchema,
        response: { 200: ReportListSchema, ...errorResponses('VALIDATION_FAILED') },
      },
    },
    async (request) => listTenantReports(db, tenantOf(request), request.query),
  );
  app.get(
    `${path}/:id`,
    {
      config: { permission: 'compliance:read' },
      schema: {
        tags,
        summary: 'Staff: one compliance report with its data and hash',
        security: secured,
        params: reportParams,
        response: { 200: ReportSchema, ...errorResponses('NOT_FOUND') },
      },
    },
    async (request) => readReport(db, tenantOf(request), request.params.id),
  );
  app.get(
    `${path}/:id/download`,
    {
      config: { permission: 'compliance:read' },
      schema: {
        tags,
        summary: 'Staff: download a compliance report as JSON (with its hash) or its rows as CSV',
        security: secured,
        params: reportParams,
        querystring: DownloadQuerySchema,
        produces: ['application/json', 'text/csv'],
        response: errorResponses('VALIDATION_FAILED', 'NOT_FOUND'),
      },
    },
    async (request, reply) => {
      const file = await downloadReport(db, contextOf(request), request.params.id, request.query.format);
      reply.header('content-disposition', `attachment; filename="${file.fileName}"`);
      return reply.type(file.contentType).send(file.body);
    },
  );
  app.post(
    `${path}/:id/verify`,
    {
      config: { permission: 'compliance:read' },
      schema: {
        tags,
        summary: 'Staff: recompute the hash of the stored report data and compare it with the stored hash',
        security: secured,
        params: reportParams,
        response: { 200: VerificationSchema, ...errorResponses('NOT_FOUND') },
      },
    },
    async (request) => verifyReport(db, contextOf(request), request.params.id),
  );
}

function registerWrites(app: AppInstance): void {
  const db = app.database.db;
  const settings = complianceSettings(app.config);
  app.post(
    path,
    {
      config: { permission: 'compliance:manage' },
      schema: {
        tags,
        summary: 'Staff: generate a compliance report of a type for the period [from, to)',
        security: secured,
        body: ReportBodySchema,
        response: {
          201: ReportSchema,
          ...errorResponses('VALIDATION_FAILED', 'COMPLIANCE_PERIOD_INVALID', 'COMPLIANCE_REPORT_TOO_LARGE'),
        },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await generateReport(db, settings, contextOf(request), request.body, 'staff')),
  );
  app.post(
    `${path}/:id/submission`,
    {
      config: { permission: 'compliance:manage' },
      schema: {
        tags,
        summary: 'Staff: record that the report was submitted to the authority (once)',
        security: secured,
        params: reportParams,
        body: SubmissionBodySchema,
        response: {
          200: ReportSchema,
          ...errorResponses('VALIDATION_FAILED', 'NOT_FOUND', 'COMPLIANCE_REPORT_ALREADY_SUBMITTED'),
        },
      },
    },
    async (request) => recordSubmission(db, contextOf(request), request.params.id, request.body),
  );
}
