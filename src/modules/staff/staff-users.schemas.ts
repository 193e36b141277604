import { Type } from '@sinclair/typebox';
import { CursorQuerySchema, NextCursorSchema } from '../../platform/pagination.ts';
import { IdParamsSchema, PageLimitSchema } from '../../platform/schema-types.ts';

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

export const UserListSchema = Type.Object(
  { users: Type.Array(Type.Object(userFields)), next_cursor: NextCursorSchema },
  { examples: [{ users: [exampleUser], next_cursor: 'MDE5MGE1YzItN2QxZS03YjNj…' }] },
);

export const UserDetailSchema = Type.Object(
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

export const UserListQuerySchema = Type.Object(
  {
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    role: Type.Optional(
      Type.Union([
        Type.Literal('super_admin'),
        Type.Literal('admin'),
        Type.Literal('manager'),
        Type.Literal('officer'),
        Type.Literal('customer'),
      ]),
    ),
    status: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 })),
    limit: PageLimitSchema(20),
    cursor: CursorQuerySchema,
  },
  { additionalProperties: false },
);

export const UserParamsSchema = IdParamsSchema('The user (customer or staff member) of your tenant.');
