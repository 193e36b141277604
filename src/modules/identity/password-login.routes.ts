import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { resolveTenantId } from '../../platform/tenant-resolver.ts';
import { loginResponse } from '../sessions/session-tokens.ts';
import {
  BackupCodeSchema,
  EmailSchema,
  OptionalDeviceSchema,
  PasswordSchema,
  TokenPairResponseSchema,
  TotpCodeSchema,
} from './identity.schemas.ts';
import { passwordLogin } from './password-login.service.ts';

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
    // The first example is the seeded admin (src/db/seed/seed-people.ts), who has not enrolled MFA yet:
    // the session it gets may only enrol it. The second shows a login with a TOTP code.
    examples: [
      {
        email: 'admin@corebank.dev',
        password: 'Corebank-Admin-Demo-2026',
        device: { type: 'web', name: 'Firefox on Linux' },
      },
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

/** The same body; its example is the account the register example creates (seeded customers log in by PIN). */
const EmailLoginBodySchema = Type.Object(PasswordLoginBodySchema.properties, {
  additionalProperties: false,
  examples: [{ email: 'budi@example.com', password: 'a long and unusual passphrase' }],
});

const passwordLoginErrors = [
  'INVALID_CREDENTIALS',
  'MFA_REQUIRED',
  'MFA_INVALID',
  'ACCOUNT_INACTIVE',
  'EMAIL_NOT_VERIFIED',
  'PASSWORD_EXPIRED',
  'ACCOUNT_LOCKED',
  'TOO_MANY_ATTEMPTS',
] as const;

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
      return loginResponse(session);
    };

  app.post(
    '/v1/admin/auth/login',
    {
      config: { permission: 'public', tenantHeader: true },
      schema: {
        tags: ['auth'],
        summary: 'Staff login with email, password and TOTP (or a backup code, or a trusted device)',
        body: PasswordLoginBodySchema,
        response: { 200: TokenPairResponseSchema, ...errorResponses(...passwordLoginErrors) },
      },
    },
    login('staff'),
  );

  app.post(
    '/v1/auth/email/login',
    {
      config: { permission: 'public', tenantHeader: true },
      schema: {
        tags: ['auth'],
        summary: 'Customer login with a verified email account (second factor when MFA is enabled)',
        body: EmailLoginBodySchema,
        response: { 200: TokenPairResponseSchema, ...errorResponses(...passwordLoginErrors) },
      },
    },
    login('customer'),
  );
};
