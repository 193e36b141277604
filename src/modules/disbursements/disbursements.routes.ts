import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { idempotencyKeyFrom, sendMoneyResponse } from '../ledger/idempotency.ts';
import type { MoneyServices } from '../ledger/money-services.ts';
import { moneyMovementErrorCodes } from '../transactions/transactions.schemas.ts';
import {
  DisbursementBodySchema,
  DisbursementHeadersSchema,
  DisbursementResponseSchema,
  disbursementItemsMax,
} from './disbursements.schemas.ts';
import { disburse, disbursementPermission } from './disbursements.service.ts';

const disbursementErrorCodes = [
  'RECIPIENT_NOT_FOUND',
  'RECIPIENT_BLOCKED',
  'INSUFFICIENT_FUNDS',
  'SEGREGATION_OF_DUTIES',
  'APPROVAL_REQUIRED',
  'PAYLOAD_TOO_LARGE',
  ...moneyMovementErrorCodes,
] as const;

/** A batch of 1,000 items with long descriptions is larger than the default body limit. */
const batchBodyLimitBytes = 1024 * 1024;

export const disbursementsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const services: MoneyServices = { db: app.database.db, money: app.config.money };

  app.post(
    '/v1/admin/disbursements',
    {
      config: { permission: disbursementPermission },
      bodyLimit: Math.max(app.config.bodyLimitBytes, batchBodyLimitBytes),
      schema: {
        tags: ['money', 'admin'],
        summary: `Staff: pay up to ${disbursementItemsMax} customers from a system wallet (cash_in or fees) under one required Idempotency-Key, all-or-none or each on its own`,
        security: [{ bearerAuth: [] }],
        headers: DisbursementHeadersSchema,
        body: DisbursementBodySchema,
        response: { 201: DisbursementResponseSchema, ...errorResponses(...disbursementErrorCodes) },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const key = idempotencyKeyFrom(request.headers['idempotency-key']);
      if (key === undefined) throw new Error('the schema requires the Idempotency-Key header');
      const audit = auditContextFromRequest(request, principal.tenantId);
      const response = await disburse(services, principal, audit, key, request.body);
      return sendMoneyResponse(reply as never, response);
    },
  );
};
