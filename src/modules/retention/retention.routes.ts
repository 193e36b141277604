import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import {
  RetentionPolicyChangesSchema,
  RetentionPolicyListSchema,
  RetentionPolicySchema,
  RetentionTableParamsSchema,
} from './retention.schemas.ts';
import { changeRetentionPolicy, listRetentionPolicies, readRetentionPolicy } from './retention.service.ts';

const secured = [{ bearerAuth: [] }];
const tags = ['admin'];
const path = '/v1/admin/retention-policies';

const tenantOf = (request: Parameters<typeof requirePrincipal>[0]) => requirePrincipal(request).tenantId;

/** The retention policies the retention job applies (docs/operations.md, "Retention and archives"). */
export const retentionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const db = app.database.db;
  app.get(
    path,
    {
      config: { permission: 'compliance:manage' },
      schema: {
        tags,
        summary: 'Staff: every retention policy (platform-wide, one per table)',
        security: secured,
        response: { 200: RetentionPolicyListSchema },
      },
    },
    async (request) => listRetentionPolicies(db, tenantOf(request)),
  );
  app.get(
    `${path}/:table`,
    {
      config: { permission: 'compliance:manage' },
      schema: {
        tags,
        summary: 'Staff: the retention policy of one table',
        security: secured,
        params: RetentionTableParamsSchema,
        response: { 200: RetentionPolicySchema, ...errorResponses('NOT_FOUND') },
      },
    },
    async (request) => readRetentionPolicy(db, tenantOf(request), request.params.table),
  );
  app.patch(
    `${path}/:table`,
    {
      config: { permission: 'compliance:manage' },
      schema: {
        tags,
        summary: 'Staff: change a retention policy (ages in days 1-36500, delete ≥ archive ≥ 1, active flag)',
        security: secured,
        params: RetentionTableParamsSchema,
        body: RetentionPolicyChangesSchema,
        response: { 200: RetentionPolicySchema, ...errorResponses('VALIDATION_FAILED', 'NOT_FOUND') },
      },
    },
    async (request) =>
      changeRetentionPolicy(
        db,
        auditContextFromRequest(request, tenantOf(request)),
        request.params.table,
        request.body,
      ),
  );
};
