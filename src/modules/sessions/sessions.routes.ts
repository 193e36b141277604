import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { callerOf, requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { resolveTenantId } from '../../platform/tenant-resolver.ts';
import { tokenPairResponse } from './session-tokens.ts';
import {
  EndedResponseSchema,
  LogoutAllBodySchema,
  RefreshBodySchema,
  RefreshResponseSchema,
  SessionListSchema,
  SessionParamsSchema,
} from './sessions.schemas.ts';
import { listSessions, logout, refreshSession, revokeOwnSession } from './sessions.service.ts';

type App = Parameters<FastifyPluginAsyncTypebox>[0];

function registerRefresh(app: App): void {
  app.post(
    '/v1/auth/refresh',
    {
      config: { permission: 'public', tenantHeader: true },
      schema: {
        tags: ['auth'],
        summary:
          'Rotate the refresh token: a new access token and a new refresh token (reuse revokes the session)',
        body: RefreshBodySchema,
        response: {
          200: RefreshResponseSchema,
          ...errorResponses('REFRESH_TOKEN_INVALID', 'REFRESH_TOKEN_REUSED'),
        },
      },
    },
    async (request) => {
      const tenantId = await resolveTenantId(app, request);
      const tokens = await refreshSession(
        app,
        auditContextFromRequest(request, tenantId),
        request.body.refresh_token,
      );
      return tokenPairResponse(tokens);
    },
  );
}

function registerLogout(app: App): void {
  app.post(
    '/v1/auth/logout',
    {
      config: { permission: 'sessions:manage_own' },
      schema: {
        tags: ['auth'],
        summary: 'End this session; its access and refresh tokens stop working at once',
        security: [{ bearerAuth: [] }],
        response: { 200: EndedResponseSchema, ...errorResponses('UNAUTHENTICATED') },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const ended = await logout(
        app,
        principal,
        auditContextFromRequest(request, principal.tenantId),
        'current',
      );
      return { sessions_ended: ended };
    },
  );
}

function registerLogoutAll(app: App): void {
  app.post(
    '/v1/auth/logout-all',
    {
      config: { permission: 'sessions:manage_own' },
      schema: {
        tags: ['auth'],
        summary: 'End every session of the caller, optionally keeping this one',
        security: [{ bearerAuth: [] }],
        body: Type.Optional(LogoutAllBodySchema),
        response: { 200: EndedResponseSchema, ...errorResponses('UNAUTHENTICATED') },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const which = request.body?.keep_current ? 'all_but_current' : 'all';
      const ended = await logout(app, principal, auditContextFromRequest(request, principal.tenantId), which);
      return { sessions_ended: ended };
    },
  );
}

function registerListSessions(app: App): void {
  app.get(
    '/v1/me/sessions',
    {
      config: { permission: 'sessions:manage_own', sessionCheck: 'with-read' },
      schema: {
        tags: ['sessions'],
        summary: "The caller's active sessions (devices)",
        security: [{ bearerAuth: [] }],
        response: { 200: SessionListSchema, ...errorResponses('UNAUTHENTICATED') },
      },
    },
    async (request) => ({ sessions: await listSessions(app, callerOf(request)) }),
  );
}

function registerRevokeSession(app: App): void {
  app.delete(
    '/v1/me/sessions/:id',
    {
      config: { permission: 'sessions:manage_own' },
      schema: {
        tags: ['sessions'],
        summary: "End one of the caller's sessions (another user's session is not found)",
        security: [{ bearerAuth: [] }],
        params: SessionParamsSchema,
        response: { 204: Type.Null(), ...errorResponses('NOT_FOUND') },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      await revokeOwnSession(
        app,
        principal,
        auditContextFromRequest(request, principal.tenantId),
        request.params.id,
      );
      return reply.code(204).send(null);
    },
  );
}

export const sessionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  registerRefresh(app);
  registerLogout(app);
  registerLogoutAll(app);
  registerListSessions(app);
  registerRevokeSession(app);
};
