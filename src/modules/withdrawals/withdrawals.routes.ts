import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppInstance } from '../../app.ts';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { idempotencyKeyFrom, sendMoneyResponse } from '../ledger/idempotency.ts';
import type { MoneyServices } from '../ledger/money-services.ts';
import { IdempotencyHeadersSchema, moneyMovementErrorCodes } from '../transactions/transactions.schemas.ts';
import { WithdrawalParamsSchema, WithdrawalSchema, WithdrawBodySchema } from './withdrawals.schemas.ts';
import { readOwnWithdrawal, requestWithdrawal } from './withdrawals.service.ts';

export const withdrawalsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const services: MoneyServices = { db: app.database.db, money: app.config.money };
  registerWithdraw(app, services);
  registerReadWithdrawal(app, services);
};

function registerWithdraw(app: AppInstance, services: MoneyServices): void {
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
}

function registerReadWithdrawal(app: AppInstance, services: MoneyServices): void {
  app.get(
    '/v1/withdrawals/:id',
    {
      config: { permission: 'transactions:read_own' },
      schema: {
        tags: ['money'],
        summary: 'One of your withdrawals: pending → processing → completed | failed',
        security: [{ bearerAuth: [] }],
        params: WithdrawalParamsSchema,
        response: { 200: WithdrawalSchema, ...errorResponses('NOT_FOUND') },
      },
    },
    async (request) => readOwnWithdrawal(services, requirePrincipal(request), request.params.id),
  );
}
