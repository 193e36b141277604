import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { callerOf, requirePrincipal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { metadataBytesMax, ProfileSchema, ProfileUpdateSchema } from './profile.schemas.ts';
import { readProfile, updateProfile } from './profile.service.ts';

export const profileRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/me',
    {
      config: { permission: 'profile:read', sessionCheck: 'with-read' },
      schema: {
        tags: ['profile'],
        summary: 'The caller: identity, status, permissions and profile',
        security: [{ bearerAuth: [] }],
        response: { 200: ProfileSchema, ...errorResponses('NOT_FOUND') },
      },
    },
    async (request) => readProfile(app.database, callerOf(request)),
  );

  app.patch(
    '/v1/me',
    {
      config: { permission: 'profile:update' },
      schema: {
        tags: ['profile'],
        summary: 'Change name, avatar, profile tags or metadata (nothing else can be set)',
        security: [{ bearerAuth: [] }],
        body: ProfileUpdateSchema,
        response: { 200: ProfileSchema, ...errorResponses('NOT_FOUND') },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      if (request.body.metadata && JSON.stringify(request.body.metadata).length > metadataBytesMax) {
        throw new AppError('VALIDATION_FAILED', undefined, [
          { field: 'body.metadata', reason: `must be at most ${metadataBytesMax} bytes of JSON` },
        ]);
      }
      return updateProfile(
        app.database,
        principal,
        auditContextFromRequest(request, principal.tenantId),
        request.body,
      );
    },
  );
};
