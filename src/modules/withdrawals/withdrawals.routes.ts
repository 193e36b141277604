import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { withScope } from '../../db/tenant-transaction.ts';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { IdParamsSchema, UuidSchema } from '../../platform/schema-types.ts';
import { idempotencyKeyFrom, sendMoneyResponse } from '../ledger/idempotency.ts';
import type { MoneyServices } from '../ledger/money-services.ts';
import {
  AmountSchema,
  AssetSchema,
  IdempotencyHeadersSchema,
  moneyMovementErrorCodes,
} from '../transactions/transactions.schemas.ts';
import { requestWithdrawal } from './withdrawals.service.ts';

const WithdrawBodySchema = Type.Object(
  {
    amount: AmountSchema,
    asset: Type.Optional(AssetSchema),
    bank_account_id: UuidSchema({ description: 'One of your active linked bank accounts.' }),
  },
  {
    additionalProperties: false,
    examples: [{ amount: 2000000, bank_account_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e' }],
  },
);

const nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

const WithdrawalSchema = Type.Object(
  {
    operation_id: Type.String({ format: 'uuid' }),
    type: Type.Literal('withdrawal'),
    status: Type.Union([
      Type.Literal('pending'),
      Type.Literal('processing'),
      Type.Literal('completed'),
      Type.Literal('failed'),
    ]),
    asset: Type.String({ maxLength: 16 }),
    amount: Type.Integer({ minimum: 1 }),
    bank_account_id: Type.String({ format: 'uuid' }),
    hold_id: Type.String({ format: 'uuid' }),
    external_reference: Type.Optional(nullable(Type.String({ maxLength: 255 }))),
    error_message: Type.Optional(nullable(Type.String({ maxLength: 2000 }))),
    created_at: Type.String({ format: 'date-time' }),
    completed_at: Type.Optional(nullable(Type.String({ format: 'date-time' }))),
  },
  {
    additionalProperties: false,
    examples: [
      {
        operation_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e',
        type: 'withdrawal',
        status: 'pending',
        asset: 'IDR',
        amount: 2000000,
        bank_account_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6f',
        hold_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d70',
        created_at: '2026-11-22T10:00:00.000Z',
      },
    ],
  },
);

export const withdrawalsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const services: MoneyServices = { db: app.database.db, money: app.config.money };

  app.post(
    '/v1/transactions/withdraw',
    {
      config: { permission: 'transactions:create' },
      schema: {
        tags: ['money'],
        summary:
          'Withdraw to a linked bank account: held now, paid out by the payout worker (202, then poll)',
        security: [{ bearerAuth: [] }],
        headers: IdempotencyHeadersSchema,
        body: WithdrawBodySchema,
        response: {
          202: WithdrawalSchema,
          ...errorResponses('BANK_ACCOUNT_INACTIVE', 'INSUFFICIENT_FUNDS', ...moneyMovementErrorCodes),
        },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const key = idempotencyKeyFrom(request.headers['idempotency-key']);
      const audit = auditContextFromRequest(request, principal.tenantId);
      const response = await requestWithdrawal(services, principal, audit, key, request.body);
      return sendMoneyResponse(reply as never, response);
    },
  );

  app.get(
    '/v1/withdrawals/:id',
    {
      config: { permission: 'transactions:read_own' },
      schema: {
        tags: ['money'],
        summary: 'One of your withdrawals: pending → processing → completed | failed',
        security: [{ bearerAuth: [] }],
        params: IdParamsSchema('The operation_id of one of your withdrawals.'),
        response: { 200: WithdrawalSchema, ...errorResponses('NOT_FOUND') },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const operation = await withScope(
        app.database.db,
        { tenantId: principal.tenantId, userId: principal.userId },
        (transaction) =>
          transaction
            .selectFrom('operations')
            .selectAll()
            .where('tenant_id', '=', principal.tenantId)
            .where('user_id', '=', principal.userId)
            .where('id', '=', request.params.id)
            .where('operation_type', '=', 'withdrawal')
            .executeTakeFirst(),
      );
      if (!operation?.bank_account_id || !operation.hold_id) throw new AppError('NOT_FOUND');
      return {
        operation_id: operation.id,
        type: 'withdrawal' as const,
        status: operation.status,
        asset: operation.asset_code,
        amount: operation.amount,
        bank_account_id: operation.bank_account_id,
        hold_id: operation.hold_id,
        external_reference: operation.external_reference,
        error_message: operation.error_message,
        created_at: operation.created_at.toISOString(),
        completed_at: operation.completed_at?.toISOString() ?? null,
      };
    },
  );
};
