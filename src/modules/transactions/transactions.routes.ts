import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppInstance } from '../../app.ts';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { callerOf, requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { idempotencyKeyFrom, sendMoneyResponse } from '../ledger/idempotency.ts';
import type { MoneyServices } from '../ledger/money-services.ts';
import { topup } from './topups.service.ts';
import {
  IdempotencyHeadersSchema,
  MoneyMovementSchema,
  moneyMovementErrorCodes,
  StatementQuerySchema,
  StatementSchema,
  TopupApprovalSchema,
  TopupBodySchema,
  UserIdParamsSchema,
} from './transactions.schemas.ts';
import { readCallerStatement, readCustomerStatement } from './transactions.service.ts';

const moneyErrors = errorResponses(...moneyMovementErrorCodes);
const secured = [{ bearerAuth: [] }];

export const transactionsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const services: MoneyServices = { db: app.database.db, money: app.config.money };
  registerOwnTopup(app, services);
  registerStaffTopup(app, services);
  registerOwnStatement(app);
  registerCustomerStatement(app);
};

function registerOwnTopup(app: AppInstance, services: MoneyServices): void {
  app.post(
    '/v1/transactions/topup',
    {
      config: { permission: 'transactions:create' },
      schema: {
        tags: ['money'],
        summary:
          'Top up your own wallet from the cash-in account (development; production uses a funding source)',
        security: secured,
        headers: IdempotencyHeadersSchema,
        body: TopupBodySchema,
        response: { 201: MoneyMovementSchema, ...moneyErrors },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const key = idempotencyKeyFrom(request.headers['idempotency-key']);
      const audit = auditContextFromRequest(request, principal.tenantId);
      const response = await topup(services, principal, audit, key, principal.userId, request.body);
      return sendMoneyResponse(reply as never, response);
    },
  );
}

function registerStaffTopup(app: AppInstance, services: MoneyServices): void {
  app.post(
    '/v1/admin/users/:id/topup',
    {
      config: { permission: 'users:topup' },
      schema: {
        tags: ['money', 'admin'],
        summary:
          "Staff: credit a customer's wallet from the cash-in account (201); above the approval threshold the request waits for a second staff member (202)",
        security: secured,
        params: UserIdParamsSchema,
        headers: IdempotencyHeadersSchema,
        body: TopupBodySchema,
        response: {
          201: MoneyMovementSchema,
          202: TopupApprovalSchema,
          ...moneyErrors,
          ...errorResponses('SEGREGATION_OF_DUTIES'),
        },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const key = idempotencyKeyFrom(request.headers['idempotency-key']);
      const audit = auditContextFromRequest(request, principal.tenantId, request.params.id);
      const response = await topup(services, principal, audit, key, request.params.id, request.body);
      return sendMoneyResponse(reply as never, response);
    },
  );
}

function registerOwnStatement(app: AppInstance): void {
  app.get(
    '/v1/transactions',
    {
      config: { permission: 'transactions:read_own', sessionCheck: 'with-read' },
      schema: {
        tags: ['money'],
        summary: 'Your statement: ledger entries newest first with balance_before/after, keyset-paginated',
        security: secured,
        querystring: StatementQuerySchema,
        response: { 200: StatementSchema, ...errorResponses('VALIDATION_FAILED') },
      },
    },
    async (request) => readCallerStatement(app.database, callerOf(request), request.query),
  );
}

function registerCustomerStatement(app: AppInstance): void {
  app.get(
    '/v1/admin/users/:id/transactions',
    {
      config: { permission: 'transactions:read_any' },
      schema: {
        tags: ['money', 'admin'],
        summary: "Staff: any customer's statement, with the same filters and pagination",
        security: secured,
        params: UserIdParamsSchema,
        querystring: StatementQuerySchema,
        response: { 200: StatementSchema, ...errorResponses('NOT_FOUND') },
      },
    },
    async (request) =>
      readCustomerStatement(app.database, requirePrincipal(request), request.params.id, request.query),
  );
}
