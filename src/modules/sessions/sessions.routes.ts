import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { callerOf, requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { IdParamsSchema } from '../../platform/schema-types.ts';
import { resolveTenantId } from '../../platform/tenant-resolver.ts';
import { listSessions, logout, refreshSession, revokeOwnSession } from './sessions.service.ts';

const RefreshBodySchema = Type.Object(
  { refresh_token: Type.String({ minLength: 10, maxLength: 200 }) },
  { additionalProperties: false, examples: [{ refresh_token: 'rt_3q2-…' }] },
);

const RefreshResponseSchema = Type.Object(
  {
    access_token: Type.String(),
    refresh_token: Type.String(),
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Integer(),
    session_id: Type.String({ format: 'uuid' }),
  },
  {
    examples: [
      {
        access_token: 'eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0…',
        refresh_token: 'rt_9xk-…',
        token_type: 'Bearer',
        expires_in: 900,
        session_id: '0190a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6f',
      },
    ],
  },
);

const LogoutAllBodySchema = Type.Object(
  { keep_current: Type.Boolean({ default: false }) },
  { additionalProperties: false, examples: [{ keep_current: true }] },
);

const EndedResponseSchema = Type.Object(
  { sessions_ended: Type.Integer() },
  { examples: [{ sessions_ended: 2 }] },
);

const SessionSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  device_type: Type.String(),
  device_id: Type.Union([Type.String(), Type.Null()]),
  device_name: Type.Union([Type.String(), Type.Null()]),
  provider: Type.String(),
  ip_address: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  mfa_verified: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
  last_activity_at: Type.String({ format: 'date-time' }),
  expires_at: Type.String({ format: 'date-time' }),
  absolute_expires_at: Type.String({ format: 'date-time' }),
  current: Type.Boolean(),
});

const SessionListSchema = Type.Object(
  { sessions: Type.Array(SessionSchema) },
  {
    examples: [
      {
        sessions: [
          {
            id: '0190a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6f',
            device_type: 'android',
            device_id: 'device-7f3a',
            device_name: 'Pixel 8',
            provider: 'email',
            ip_address: '203.0.113.7',
            user_agent: 'Corebank/1.0 (Android 14)',
            mfa_verified: true,
            created_at: '2026-01-01T00:00:00.000Z',
            last_activity_at: '2026-01-01T00:10:00.000Z',
            expires_at: '2026-01-01T00:40:00.000Z',
            absolute_expires_at: '2026-01-08T00:00:00.000Z',
            current: true,
          },
        ],
      },
    ],
  },
);

const SessionParamsSchema = IdParamsSchema('One of your sessions.');

export const sessionRoutes: FastifyPluginAsyncTypebox = async (app) => {
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
      return {
        access_token: tokens.accessToken,
        refresh_token: tokens.refreshToken,
        token_type: 'Bearer' as const,
        expires_in: tokens.expiresInSeconds,
        session_id: tokens.sessionId,
      };
    },
  );

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
};
