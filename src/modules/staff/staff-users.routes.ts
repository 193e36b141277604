import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import {
  UserDetailSchema,
  UserListQuerySchema,
  UserListSchema,
  UserParamsSchema,
} from './staff-users.schemas.ts';
import { applyStaffAction, listUsers, type StaffAction, viewUser } from './staff-users.service.ts';

const actions: { path: string; action: StaffAction; permission: string; summary: string }[] = [
  {
    path: 'block',
    action: 'block',
    permission: 'users:block',
    summary: 'Block a user (can log in, cannot move money)',
  },
  { path: 'unblock', action: 'unblock', permission: 'users:block', summary: 'Unblock a user' },
  { path: 'unlock', action: 'unlock', permission: 'users:block', summary: 'Lift a login lockout' },
  {
    path: 'force-logout',
    action: 'force_logout',
    permission: 'users:block',
    summary: 'End every session of a user',
  },
  {
    path: 'deactivate',
    action: 'deactivate',
    permission: 'users:manage',
    summary: 'Deactivate (soft delete) a user and end their sessions',
  },
  {
    path: 'reset-mfa',
    action: 'reset_mfa',
    permission: 'users:manage',
    summary: 'Remove MFA, backup codes and trusted devices, and end sessions',
  },
];

const secured = [{ bearerAuth: [] }];

export const staffUserRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/admin/users',
    {
      config: { permission: 'users:read' },
      schema: {
        tags: ['staff'],
        summary: 'List and search users, newest first, with keyset pagination',
        security: secured,
        querystring: UserListQuerySchema,
        response: { 200: UserListSchema, ...errorResponses('VALIDATION_FAILED') },
      },
    },
    async (request) => {
      const page = await listUsers(app, requirePrincipal(request), request.query);
      return { users: page.users, next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/admin/users/:id',
    {
      config: { permission: 'users:read' },
      schema: {
        tags: ['staff'],
        summary: 'One user, with lockout state and active session count',
        security: secured,
        params: UserParamsSchema,
        response: { 200: UserDetailSchema, ...errorResponses('NOT_FOUND') },
      },
    },
    async (request) => viewUser(app, requirePrincipal(request), request.params.id),
  );

  for (const { path, action, permission, summary } of actions) {
    app.post(
      `/v1/admin/users/:id/${path}`,
      {
        config: { permission },
        schema: {
          tags: ['staff'],
          summary,
          security: secured,
          params: UserParamsSchema,
          response: { 200: UserDetailSchema, ...errorResponses('NOT_FOUND', 'CONFLICT') },
        },
      },
      async (request) => {
        const principal = requirePrincipal(request);
        const context = auditContextFromRequest(request, principal.tenantId, request.params.id);
        return applyStaffAction(app, principal, context, request.params.id, action);
      },
    );
  }
};
