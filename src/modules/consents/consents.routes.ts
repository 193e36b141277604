import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { callerOf, requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import {
  ConsentChangeResponseSchema,
  ConsentChangeSchema,
  ConsentsResponseSchema,
} from './consents.schemas.ts';
import { changeConsent, readConsents } from './consents.service.ts';

const common = { tags: ['consents'], security: [{ bearerAuth: [] }] };

/** Consent (issue 11 item 6): the customer's terms and privacy acceptances, marketing and data sharing. */
export const consentsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/me/consents',
    {
      config: { permission: 'consents:manage_own', sessionCheck: 'with-read' },
      schema: {
        ...common,
        summary:
          'Your consents: the documents still to accept, what is in force now, and the history of every grant',
        response: { 200: ConsentsResponseSchema },
      },
    },
    async (request) => readConsents(app.database, app.config.consent, callerOf(request).scope),
  );

  app.post(
    '/v1/me/consents',
    {
      config: { permission: 'consents:manage_own' },
      schema: {
        ...common,
        summary:
          'Accept the current terms or privacy policy, or grant or withdraw marketing or data sharing with a named recipient',
        body: ConsentChangeSchema,
        response: {
          200: ConsentChangeResponseSchema,
          ...errorResponses(
            'VALIDATION_FAILED',
            'CONSENT_VERSION_NOT_CURRENT',
            'CONSENT_NOT_WITHDRAWABLE',
            'NOT_FOUND',
            'CONFLICT',
          ),
        },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const audit = auditContextFromRequest(request, principal.tenantId);
      return changeConsent(app.database, app.config.consent, principal, audit, request.body);
    },
  );
};
