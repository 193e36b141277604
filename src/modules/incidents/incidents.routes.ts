import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppInstance } from '../../app.ts';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { IdParamsSchema } from '../../platform/schema-types.ts';
import {
  IncidentBodySchema,
  IncidentChangesSchema,
  IncidentDetailSchema,
  IncidentListQuerySchema,
  IncidentListSchema,
  IncidentSchema,
  ThreatListQuerySchema,
  ThreatListSchema,
} from './incidents.schemas.ts';
import {
  changeIncident,
  listTenantIncidents,
  listTenantThreats,
  openIncident,
  readIncident,
} from './incidents.service.ts';

const secured = [{ bearerAuth: [] }];
const tags = ['security', 'admin'];
const path = '/v1/admin/security/incidents';

const tenantOf = (request: Parameters<typeof requirePrincipal>[0]) => requirePrincipal(request).tenantId;

/** Incidents (seed 003) with their timeline, and the threat events detections create. */
export const incidentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  registerReads(app);
  registerWrites(app);
};

function registerReads(app: AppInstance): void {
  const db = app.database.db;

  app.get(
    path,
    {
      config: { permission: 'audit:read' },
      schema: {
        tags,
        summary: 'Staff: security incidents, newest first',
        security: secured,
        querystring: IncidentListQuerySchema,
        response: { 200: IncidentListSchema, ...errorResponses('VALIDATION_FAILED') },
      },
    },
    async (request) => listTenantIncidents(db, tenantOf(request), request.query),
  );
  app.get(
    `${path}/:id`,
    {
      config: { permission: 'audit:read' },
      schema: {
        tags,
        summary: 'Staff: one incident with its timeline (every change, oldest first)',
        security: secured,
        params: IdParamsSchema('The incident.'),
        response: { 200: IncidentDetailSchema, ...errorResponses('NOT_FOUND') },
      },
    },
    async (request) => readIncident(db, tenantOf(request), request.params.id),
  );
  app.get(
    '/v1/admin/security/threats',
    {
      config: { permission: 'audit:read' },
      schema: {
        tags,
        summary: 'Staff: threat events, newest first',
        security: secured,
        querystring: ThreatListQuerySchema,
        response: { 200: ThreatListSchema, ...errorResponses('VALIDATION_FAILED') },
      },
    },
    async (request) => listTenantThreats(db, tenantOf(request), request.query),
  );
}

function registerWrites(app: AppInstance): void {
  const db = app.database.db;
  app.post(
    path,
    {
      config: { permission: 'security:manage' },
      schema: {
        tags,
        summary: 'Staff: open an incident, optionally assigned and linked to threats and events',
        security: secured,
        body: IncidentBodySchema,
        response: { 201: IncidentSchema, ...errorResponses('VALIDATION_FAILED') },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(await openIncident(db, auditContextFromRequest(request, tenantOf(request)), request.body)),
  );
  app.patch(
    `${path}/:id`,
    {
      config: { permission: 'security:manage' },
      schema: {
        tags,
        summary: 'Staff: move, assign, re-prioritise, link or annotate an incident',
        security: secured,
        params: IdParamsSchema('The incident.'),
        body: IncidentChangesSchema,
        response: { 200: IncidentSchema, ...errorResponses('VALIDATION_FAILED', 'NOT_FOUND', 'CONFLICT') },
      },
    },
    async (request) =>
      changeIncident(
        db,
        auditContextFromRequest(request, tenantOf(request)),
        request.params.id,
        request.body,
      ),
  );
}
