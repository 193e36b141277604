import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppInstance } from '../../app.ts';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import {
  LegalHoldListQuerySchema,
  LegalHoldListSchema,
  LegalHoldParamsSchema,
  LegalHoldSchema,
  PlaceLegalHoldBodySchema,
  ReleaseLegalHoldBodySchema,
} from './legal-holds.schemas.ts';
import { listHolds, placeLegalHold, releaseHold } from './legal-holds.service.ts';

const secured = [{ bearerAuth: [] }];
const tags = ['compliance', 'admin'];
const path = '/v1/admin/legal-holds';
const config = { permission: 'compliance:manage' } as const;

/** Legal holds (issue 11): staff preserve a customer's data against retention and erasure. */
export const legalHoldsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  registerPlace(app);
  registerRelease(app);
  registerList(app);
};

function registerPlace(app: AppInstance): void {
  app.post(
    path,
    {
      config,
      schema: {
        tags,
        summary: "Staff: place a legal hold on a customer's data (retention keeps it, erasure is refused)",
        security: secured,
        body: PlaceLegalHoldBodySchema,
        response: { 201: LegalHoldSchema, ...errorResponses('NOT_FOUND') },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const audit = auditContextFromRequest(request, principal.tenantId, request.body.user_id);
      const hold = await placeLegalHold(app.database.db, principal, audit, request.body);
      return reply.code(201).send(hold);
    },
  );
}

function registerRelease(app: AppInstance): void {
  app.post(
    `${path}/:id/release`,
    {
      config,
      schema: {
        tags,
        summary: 'Staff: release a legal hold (exactly once; again is 409 LEGAL_HOLD_RELEASED)',
        security: secured,
        params: LegalHoldParamsSchema,
        body: ReleaseLegalHoldBodySchema,
        response: { 200: LegalHoldSchema, ...errorResponses('NOT_FOUND', 'LEGAL_HOLD_RELEASED') },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const audit = auditContextFromRequest(request, principal.tenantId);
      return releaseHold(app.database.db, principal, audit, request.params.id, request.body.reason);
    },
  );
}

function registerList(app: AppInstance): void {
  app.get(
    path,
    {
      config,
      schema: {
        tags,
        summary: 'Staff: legal holds, newest first, keyset-paginated',
        security: secured,
        querystring: LegalHoldListQuerySchema,
        response: { 200: LegalHoldListSchema },
      },
    },
    async (request) => listHolds(app.database.db, requirePrincipal(request), request.query),
  );
}
