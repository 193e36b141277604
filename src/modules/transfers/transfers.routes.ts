import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { sendMoneyResponse } from '../idempotency/idempotency.service.ts';
import { idempotencyKeyFrom, type MoneyServices } from '../operations/money-rules.ts';
import {
  AmountSchema,
  AssetSchema,
  DescriptionSchema,
  IdempotencyHeadersSchema,
  MoneyMovementSchema,
  moneyMovementErrorCodes,
} from '../transactions/transactions.schemas.ts';
import { transfer } from './transfers.service.ts';

export const TransferBodySchema = Type.Object(
  {
    to_account_number: Type.String({
      pattern: '^[0-9]{8,20}$',
      maxLength: 20,
      description: 'The recipient’s account number.',
      examples: ['1234567802'],
    }),
    amount: AmountSchema,
    asset: Type.Optional(AssetSchema),
    description: Type.Optional(DescriptionSchema),
  },
  {
    additionalProperties: false,
    examples: [{ to_account_number: '1234567802', amount: 150000, description: 'Rent share' }],
  },
);

export const transfersRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const services: MoneyServices = { db: app.database.db, money: app.config.money };

  app.post(
    '/v1/transactions/transfer',
    {
      config: { permission: 'transactions:create' },
      schema: {
        tags: ['money'],
        summary: 'Transfer to another customer by account number (transfer_out + transfer_in, atomically)',
        security: [{ bearerAuth: [] }],
        headers: IdempotencyHeadersSchema,
        body: TransferBodySchema,
        response: {
          201: MoneyMovementSchema,
          ...errorResponses(
            'RECIPIENT_NOT_FOUND',
            'RECIPIENT_BLOCKED',
            'SELF_TRANSFER',
            'INSUFFICIENT_FUNDS',
            ...moneyMovementErrorCodes,
          ),
        },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const key = idempotencyKeyFrom(request.headers['idempotency-key']);
      const audit = auditContextFromRequest(request, principal.tenantId);
      const response = await transfer(services, principal, audit, key, request.body);
      return sendMoneyResponse(reply as never, response);
    },
  );
};
