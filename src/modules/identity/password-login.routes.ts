import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { resolveTenantId } from '../../platform/tenant-resolver.ts';
import {
  BackupCodeSchema,
  EmailSchema,
  OptionalDeviceSchema,
  PasswordSchema,
  TokenPairResponseSchema,
  TotpCodeSchema,
} from './identity.schemas.ts';
import { type PasswordSession, passwordLogin } from './password-login.service.ts';

export const PasswordLoginBodySchema = Type.Object(
  {
    email: EmailSchema,
    password: PasswordSchema,
    totp: Type.Optional(TotpCodeSchema),
    backup_code: Type.Optional(BackupCodeSchema),
    device: Type.Optional(OptionalDeviceSchema),
    trusted_device_token: Type.Optional(Type.String({ minLength: 10, maxLength: 200 })),
    remember_device: Type.Optional(Type.Boolean()),
  },
  {
    additionalProperties: false,
    examples: [
      {
        email: 'admin@corebank.dev',
        password: 'Corebank-Admin-Demo-2026',
        totp: '287082',
        device: { type: 'web', name: 'Firefox on Linux' },
        remember_device: true,
      },
    ],
  },
);
type PasswordLoginBody = Static<typeof PasswordLoginBodySchema>;

export function tokenPairResponse(session: PasswordSession) {
  return {
    access_token: session.accessToken,
    refresh_token: session.refreshToken,
    token_type: 'Bearer' as const,
    expires_in: session.expiresInSeconds,
    session_id: session.sessionId,
    user: session.user,
    ...(session.trustedDeviceToken ? { trusted_device_token: session.trustedDeviceToken } : {}),
  };
}

export const passwordLoginRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const login =
    (kind: 'customer' | 'staff') => async (request: FastifyRequest<{ Body: PasswordLoginBody }>) => {
      const tenantId = await resolveTenantId(app, request);
      const session = await passwordLogin(
        app,
        auditContextFromRequest(request, tenantId),
        request.body,
        kind,
      );
      return tokenPairResponse(session);
    };

  app.post(
    '/v1/admin/auth/login',
    {
      config: { permission: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Staff login with email, password and TOTP (or a backup code, or a trusted device)',
        body: PasswordLoginBodySchema,
        response: { 200: TokenPairResponseSchema, ...errorResponses(400, 401, 403, 423, 429) },
      },
    },
    login('staff'),
  );

  app.post(
    '/v1/auth/email/login',
    {
      config: { permission: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Customer login with a verified email account (second factor when MFA is enabled)',
        body: PasswordLoginBodySchema,
        response: { 200: TokenPairResponseSchema, ...errorResponses(400, 401, 403, 423, 429) },
      },
    },
    login('customer'),
  );
};
