import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { PinChangeBodySchema, PinChangedResponseSchema } from './pin-change.schemas.ts';
import { changePin } from './pin-change.service.ts';

export const pinChangeRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/me/pin',
    {
      config: { permission: 'profile:update' },
      schema: {
        tags: ['profile'],
        summary:
          'Change the banking PIN (customers; optionally ending every other session). A wrong current PIN counts as a failed login',
        security: [{ bearerAuth: [] }],
        body: PinChangeBodySchema,
        response: {
          200: PinChangedResponseSchema,
          ...errorResponses('INVALID_CREDENTIALS', 'WEAK_PIN', 'ACCOUNT_LOCKED', 'STEP_UP_REQUIRED'),
        },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const ended = await changePin(
        app,
        principal,
        auditContextFromRequest(request, principal.tenantId),
        request.body,
      );
      return { message: 'PIN changed.', sessions_ended: ended };
    },
  );
};
