import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { CursorQuerySchema, NextCursorSchema } from '../../platform/pagination.ts';
import { IdParamsSchema, PageLimitSchema } from '../../platform/schema-types.ts';
import { applyStaffAction, listUsers, type StaffAction, viewUser } from './staff-users.service.ts';

const userFields = {
  id: Type.String({ format: 'uuid' }),
  role: Type.String(),
  name: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  phone: Type.Union([Type.String(), Type.Null()]),
  status: Type.Integer(),
  kyc_tier: Type.Integer(),
  mfa_enabled: Type.Boolean(),
  locked: Type.Boolean(),
  last_login_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  deleted_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
};

const exampleUser = {
  id: '0190a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e',
  role: 'customer',
  name: 'Alice Wijaya',
  email: 'alice@example.com',
  phone: '081234567801',
  status: 1,
  kyc_tier: 2,
  mfa_enabled: false,
  locked: false,
  last_login_at: '2026-01-01T00:00:00.000Z',
  created_at: '2025-12-01T00:00:00.000Z',
  deleted_at: null,
};

const UserListSchema = Type.Object(
  { users: Type.Array(Type.Object(userFields)), next_cursor: NextCursorSchema },
  { examples: [{ users: [exampleUser], next_cursor: 'MDE5MGE1YzItN2QxZS03YjNj…' }] },
);

const UserDetailSchema = Type.Object(
  {
    ...userFields,
    failed_login_attempts: Type.Integer(),
    lockout_count: Type.Integer(),
    locked_until: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    trust_score: Type.Number(),
    permissions: Type.Array(Type.String()),
    active_sessions: Type.Integer(),
  },
  {
    examples: [
      {
        ...exampleUser,
        failed_login_attempts: 0,
        lockout_count: 0,
        locked_until: null,
        trust_score: 50,
        permissions: [],
        active_sessions: 1,
      },
    ],
  },
);

const ListQuerySchema = Type.Object(
  {
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    role: Type.Optional(
      Type.Union(
        ['super_admin', 'admin', 'manager', 'officer', 'customer'].map((role) => Type.Literal(role)),
      ),
    ),
    status: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 })),
    limit: PageLimitSchema(20),
    cursor: CursorQuerySchema,
  },
  { additionalProperties: false },
);

const UserParamsSchema = IdParamsSchema('The user (customer or staff member) of your tenant.');

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
        querystring: ListQuerySchema,
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
