import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { resolveTenantId } from '../../platform/tenant-resolver.ts';
import {
  ChangeBodySchema,
  ChangedResponseSchema,
  ForgotBodySchema,
  RegisterBodySchema,
  ResetBodySchema,
  TokenBodySchema,
} from './email-account.schemas.ts';
import {
  changePassword,
  forgotPassword,
  registerEmailAccount,
  resetPassword,
  verifyEmail,
} from './email-account.service.ts';
import { MessageResponseSchema } from './identity.schemas.ts';

const neutralAnswer = 'If the address can receive it, a message is on its way.';

type App = Parameters<FastifyPluginAsyncTypebox>[0];

function registerEmailRegistration(app: App): void {
  app.post(
    '/v1/auth/email/register',
    {
      config: { permission: 'public', tenantHeader: true },
      schema: {
        tags: ['auth'],
        summary:
          'Register an email account; a verification link is emailed (same answer if the email is taken)',
        body: RegisterBodySchema,
        response: { 202: MessageResponseSchema, ...errorResponses('WEAK_PASSWORD', 'RATE_LIMITED') },
      },
    },
    async (request, reply) => {
      const tenantId = await resolveTenantId(app, request);
      await registerEmailAccount(app, auditContextFromRequest(request, tenantId), request.body);
      return reply.code(202).send({ message: neutralAnswer });
    },
  );
}

function registerVerifyEmail(app: App): void {
  app.post(
    '/v1/auth/email/verify',
    {
      config: { permission: 'public', tenantHeader: true },
      schema: {
        tags: ['auth'],
        summary: 'Verify an email address with the single-use token from the link',
        body: TokenBodySchema,
        response: { 200: MessageResponseSchema, ...errorResponses('VERIFICATION_TOKEN_INVALID') },
      },
    },
    async (request) => {
      const tenantId = await resolveTenantId(app, request);
      await verifyEmail(app, auditContextFromRequest(request, tenantId), request.body.token);
      return { message: 'Email verified.' };
    },
  );
}

function registerForgotPassword(app: App): void {
  app.post(
    '/v1/auth/password/forgot',
    {
      config: { permission: 'public', tenantHeader: true },
      schema: {
        tags: ['auth'],
        summary: 'Email a password reset link (same answer whether or not the account exists)',
        body: ForgotBodySchema,
        response: { 202: MessageResponseSchema, ...errorResponses('VALIDATION_FAILED', 'RATE_LIMITED') },
      },
    },
    async (request, reply) => {
      const tenantId = await resolveTenantId(app, request);
      await forgotPassword(app, auditContextFromRequest(request, tenantId), request.body.email);
      return reply.code(202).send({ message: neutralAnswer });
    },
  );
}

function registerResetPassword(app: App): void {
  app.post(
    '/v1/auth/password/reset',
    {
      config: { permission: 'public', tenantHeader: true },
      schema: {
        tags: ['auth'],
        summary: 'Set a new password with the single-use reset token; every session of the account ends',
        body: ResetBodySchema,
        response: {
          200: MessageResponseSchema,
          ...errorResponses('VERIFICATION_TOKEN_INVALID', 'WEAK_PASSWORD'),
        },
      },
    },
    async (request) => {
      const tenantId = await resolveTenantId(app, request);
      await resetPassword(
        app,
        auditContextFromRequest(request, tenantId),
        request.body.token,
        request.body.new_password,
      );
      return { message: 'Password reset. Log in with the new password.' };
    },
  );
}

function registerChangePassword(app: App): void {
  app.post(
    '/v1/me/password',
    {
      config: { permission: 'profile:update' },
      schema: {
        tags: ['profile'],
        summary: 'Change the password (optionally ending every other session)',
        security: [{ bearerAuth: [] }],
        body: ChangeBodySchema,
        response: {
          200: ChangedResponseSchema,
          ...errorResponses('INVALID_CREDENTIALS', 'WEAK_PASSWORD', 'ACCOUNT_LOCKED'),
        },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const ended = await changePassword(
        app,
        principal,
        auditContextFromRequest(request, principal.tenantId),
        request.body,
      );
      return { message: 'Password changed.', sessions_ended: ended };
    },
  );
}

export const emailAccountRoutes: FastifyPluginAsyncTypebox = async (app) => {
  registerEmailRegistration(app);
  registerVerifyEmail(app);
  registerForgotPassword(app);
  registerResetPassword(app);
  registerChangePassword(app);
};
