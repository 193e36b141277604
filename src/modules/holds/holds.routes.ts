import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { CursorQuerySchema, NextCursorSchema } from '../../platform/pagination.ts';
import { IdParamsSchema, PageLimitSchema, UuidSchema } from '../../platform/schema-types.ts';
import type { MoneyServices } from '../ledger/money-services.ts';
import { AmountSchema, AssetSchema } from '../transactions/transactions.schemas.ts';
import { endStaffHold, listUserHolds, placeStaffHold } from './holds.service.ts';

const nullableTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

const HoldSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    wallet_id: Type.String({ format: 'uuid' }),
    amount: Type.Integer({ minimum: 1 }),
    status: Type.Union([Type.Literal('active'), Type.Literal('released'), Type.Literal('captured')]),
    reason: Type.Union([Type.String({ maxLength: 255 }), Type.Null()]),
    operation_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
    released_at: nullableTime,
    captured_at: nullableTime,
  },
  {
    additionalProperties: false,
    examples: [
      {
        id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e',
        wallet_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6f',
        amount: 1000000,
        status: 'active',
        reason: 'staff: fraud review',
        operation_id: null,
        created_at: '2026-11-22T10:00:00.000Z',
        released_at: null,
        captured_at: null,
      },
    ],
  },
);

const PlaceHoldBodySchema = Type.Object(
  {
    user_id: UuidSchema({ description: 'The customer whose wallet is held.' }),
    amount: AmountSchema,
    asset: Type.Optional(AssetSchema),
    reason: Type.String({ minLength: 3, maxLength: 200, examples: ['fraud review'] }),
  },
  {
    additionalProperties: false,
    examples: [{ user_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e', amount: 1000000, reason: 'fraud review' }],
  },
);

const HoldParamsSchema = IdParamsSchema('The hold.');
const CustomerParamsSchema = IdParamsSchema('The customer.');

export const holdsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const services: MoneyServices = { db: app.database.db, money: app.config.money };
  const hold = {
    200: HoldSchema,
    ...errorResponses(
      'NOT_FOUND',
      'HOLD_NOT_ACTIVE',
      'CONFLICT',
      'MAINTENANCE_MODE',
      'TRANSACTION_CONFLICT',
      'SUPPLY_LIMIT_EXCEEDED',
    ),
  };

  app.post(
    '/v1/admin/holds',
    {
      config: { permission: 'holds:manage' },
      schema: {
        tags: ['money', 'admin'],
        summary: "Staff: hold part of a customer's available balance",
        security: [{ bearerAuth: [] }],
        body: PlaceHoldBodySchema,
        response: {
          201: HoldSchema,
          ...errorResponses(
            'NOT_FOUND',
            'INSUFFICIENT_FUNDS',
            'ACCOUNT_BLOCKED',
            'MAINTENANCE_MODE',
            'TRANSACTION_CONFLICT',
          ),
        },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const audit = auditContextFromRequest(request, principal.tenantId, request.body.user_id);
      const placed = await placeStaffHold(services, principal, audit, request.body);
      return reply.code(201).send(placed);
    },
  );

  for (const [action, outcome] of [
    ['release', 'released'],
    ['capture', 'captured'],
  ] as const) {
    app.post(
      `/v1/admin/holds/:id/${action}`,
      {
        config: { permission: 'holds:manage' },
        schema: {
          tags: ['money', 'admin'],
          summary: `Staff: ${action} an active hold (exactly once; again is 409 HOLD_NOT_ACTIVE)`,
          security: [{ bearerAuth: [] }],
          params: HoldParamsSchema,
          response: hold,
        },
      },
      async (request) => {
        const principal = requirePrincipal(request);
        return endStaffHold(
          services,
          principal,
          auditContextFromRequest(request, principal.tenantId),
          request.params.id,
          outcome,
        );
      },
    );
  }

  app.get(
    '/v1/admin/users/:id/holds',
    {
      config: { permission: 'holds:manage' },
      schema: {
        tags: ['money', 'admin'],
        summary: "Staff: a customer's holds, newest first, keyset-paginated",
        security: [{ bearerAuth: [] }],
        params: CustomerParamsSchema,
        querystring: Type.Object(
          { limit: PageLimitSchema(50), cursor: CursorQuerySchema },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(
            { holds: Type.Array(HoldSchema, { maxItems: 100 }), next_cursor: NextCursorSchema },
            { additionalProperties: false, examples: [{ holds: HoldSchema.examples, next_cursor: null }] },
          ),
          ...errorResponses('NOT_FOUND'),
        },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      return listUserHolds(services, principal, request.params.id, request.query);
    },
  );
};
