import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { resolveTenantId } from '../../platform/tenant-resolver.ts';
import { loginResponse } from '../sessions/session-tokens.ts';
import { startBankingLogin, verifyBankingLogin } from './banking-login.service.ts';
import {
  BankingLoginBodySchema,
  BankingVerifyBodySchema,
  LoginTokenResponseSchema,
  TokenPairResponseSchema,
} from './identity.schemas.ts';

export const bankingLoginRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/auth/banking/login',
    {
      config: { permission: 'public', tenantHeader: true },
      schema: {
        tags: ['auth'],
        summary:
          'Banking login, step one: check the customer (or register an unknown phone) and send an OTP by SMS',
        body: BankingLoginBodySchema,
        response: {
          200: LoginTokenResponseSchema,
          ...errorResponses(
            'INVALID_CREDENTIALS',
            'ACCOUNT_INACTIVE',
            'ACCOUNT_LOCKED',
            'TOO_MANY_ATTEMPTS',
            'RATE_LIMITED',
          ),
        },
      },
    },
    async (request) => {
      const tenantId = await resolveTenantId(app, request);
      const challenge = await startBankingLogin(
        app,
        auditContextFromRequest(request, tenantId),
        request.body,
      );
      return { login_token: challenge.loginToken, expires_in: challenge.expiresInSeconds };
    },
  );

  app.post(
    '/v1/auth/banking/verify',
    {
      config: { permission: 'public', tenantHeader: true },
      schema: {
        tags: ['auth'],
        summary: 'Banking login, step two: exchange the login token and the OTP for a session',
        body: BankingVerifyBodySchema,
        response: {
          200: TokenPairResponseSchema,
          ...errorResponses(
            'LOGIN_TOKEN_INVALID',
            'OTP_INVALID',
            'ACCOUNT_INACTIVE',
            'ACCOUNT_LOCKED',
            'TOO_MANY_ATTEMPTS',
          ),
        },
      },
    },
    async (request) => {
      const tenantId = await resolveTenantId(app, request);
      const session = await verifyBankingLogin(app, auditContextFromRequest(request, tenantId), request.body);
      return loginResponse(session);
    },
  );
};
