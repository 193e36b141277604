import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditContext } from '../../platform/audit/audit-trail.ts';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { recordVelocityTransfers } from '../../platform/detection-facts.ts';
import { AppError } from '../../platform/errors.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { assertUniqueReferences } from '../ledger/batch-references.ts';
import { idempotencyKeyFrom, sendMoneyResponse } from '../ledger/idempotency.ts';
import type { MoneyServices } from '../ledger/money-services.ts';
import {
  IdempotencyHeadersSchema,
  MoneyMovementSchema,
  moneyMovementErrorCodes,
} from '../transactions/transactions.schemas.ts';
import {
  TransferBatchBodySchema,
  TransferBatchResponseSchema,
  TransferBodySchema,
  transferBatchItemsMax,
} from './transfers.schemas.ts';
import { type TransferCaller, transfer, transferBatch, transferPermission } from './transfers.service.ts';

export { TransferBodySchema } from './transfers.schemas.ts';

const transferErrorCodes = [
  'RECIPIENT_NOT_FOUND',
  'RECIPIENT_BLOCKED',
  'SELF_TRANSFER',
  'INSUFFICIENT_FUNDS',
  'BALANCE_LIMIT_EXCEEDED',
  'TENANT_SUSPENDED',
  ...moneyMovementErrorCodes,
] as const;

/** A batch of 1,000 items with long descriptions is larger than the default body limit. */
const batchBodyLimitBytes = 1024 * 1024;

/**
 * The caller of an in-statement route: the verified token's user and session; the session itself is
 * checked by the transfer's statement. A request the schema refused gets the guard's full check
 * first, so an unauthenticated caller learns nothing about validation.
 */
async function inStatementCaller(app: FastifyInstance, request: FastifyRequest): Promise<TransferCaller> {
  if (request.validationError) {
    await app.checkSession(request);
    throw request.validationError;
  }
  const claims = request.claims;
  if (!claims) throw new AppError('UNAUTHENTICATED');
  return { tenantId: claims.tenantId, userId: claims.userId, uncheckedSessionId: claims.sessionId };
}

function callerAudit(request: FastifyRequest, caller: TransferCaller): AuditContext {
  return {
    ...auditContextFromRequest(request, caller.tenantId),
    userId: caller.userId,
    sessionId: caller.uncheckedSessionId,
  };
}

export const transfersRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const services: MoneyServices = {
    db: app.database.db,
    money: app.config.money,
    databaseEngine: app.database.engine,
    sessionIdleTimeoutSeconds: app.config.authentication.sessionIdleTimeoutSeconds,
    velocityWindowMinutes: app.config.security.detection.enabled
      ? app.config.security.detection.velocityWindowMinutes
      : undefined,
  };

  app.post(
    '/v1/transactions/transfer',
    {
      config: { permission: transferPermission, sessionCheck: 'in-statement' },
      attachValidation: true,
      schema: {
        tags: ['money'],
        summary: 'Transfer to another customer by account number (transfer_out + transfer_in, atomically)',
        security: [{ bearerAuth: [] }],
        headers: IdempotencyHeadersSchema,
        body: TransferBodySchema,
        response: { 201: MoneyMovementSchema, ...errorResponses(...transferErrorCodes) },
      },
    },
    async (request, reply) => {
      const caller = await inStatementCaller(app, request);
      const key = idempotencyKeyFrom(request.headers['idempotency-key']);
      const response = await transfer(services, caller, callerAudit(request, caller), key, request.body);
      recordVelocityTransfers(request, response.velocityTransfers);
      return sendMoneyResponse(reply as never, response);
    },
  );

  app.post(
    '/v1/transactions/batch',
    {
      config: { permission: transferPermission, sessionCheck: 'in-statement' },
      attachValidation: true,
      bodyLimit: Math.max(app.config.bodyLimitBytes, batchBodyLimitBytes),
      schema: {
        tags: ['money'],
        summary: `Up to ${transferBatchItemsMax} transfers from your wallets under one Idempotency-Key, all-or-none or each on its own`,
        security: [{ bearerAuth: [] }],
        headers: IdempotencyHeadersSchema,
        body: TransferBatchBodySchema,
        response: { 201: TransferBatchResponseSchema, ...errorResponses(...transferErrorCodes) },
      },
    },
    async (request, reply) => {
      const caller = await inStatementCaller(app, request);
      assertUniqueReferences(request.body.transfers);
      const key = idempotencyKeyFrom(request.headers['idempotency-key']);
      const response = await transferBatch(services, caller, callerAudit(request, caller), key, request.body);
      recordVelocityTransfers(request, response.velocityTransfers);
      return sendMoneyResponse(reply as never, response);
    },
  );
};
