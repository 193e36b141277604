import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { ErasureResponseSchema, ErasureUserParamsSchema, OwnErasureBodySchema } from './erasure.schemas.ts';
import { eraseCustomerByStaff, eraseOwnAccount } from './erasure.service.ts';

const refusals = [
  'ERASURE_BALANCE_NOT_ZERO',
  'ERASURE_WITHDRAWAL_PENDING',
  'LEGAL_HOLD_ACTIVE',
  'ERASURE_ALREADY_DONE',
  'ERASURE_AUDIT_ROW_ALTERED',
] as const;

/** GDPR erasure (issue 11 item 5): personal data anonymized in place, the account closed. */
export const erasureRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/me/erasure',
    {
      config: { permission: 'profile:update', accessLogWithoutClient: true },
      schema: {
        tags: ['privacy'],
        summary:
          'Erase your personal data and close your account (your PIN again; refused while money or a withdrawal remains)',
        security: [{ bearerAuth: [] }],
        body: OwnErasureBodySchema,
        response: {
          200: ErasureResponseSchema,
          ...errorResponses('INVALID_CREDENTIALS', 'ACCOUNT_LOCKED', ...refusals),
        },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const context = auditContextFromRequest(request, principal.tenantId);
      // The customer's earlier requests are written now, so the erasure reaches them too.
      await app.flushAccessLog();
      return eraseOwnAccount(app, principal, context, request.body.pin);
    },
  );

  app.post(
    '/v1/admin/users/:id/erasure',
    {
      config: { permission: 'compliance:manage' },
      schema: {
        tags: ['privacy'],
        summary:
          "Erase a customer's personal data and close the account (refused while money or a withdrawal remains)",
        security: [{ bearerAuth: [] }],
        params: ErasureUserParamsSchema,
        response: { 200: ErasureResponseSchema, ...errorResponses('NOT_FOUND', ...refusals) },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const context = auditContextFromRequest(request, principal.tenantId, request.params.id);
      await app.flushAccessLog();
      return eraseCustomerByStaff(app, principal, context, request.params.id);
    },
  );
};
