import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppInstance } from '../../app.ts';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { errorResponses } from '../../platform/openapi.ts';
import {
  KycRecordParamsSchema,
  KycRecordSchema,
  KycRejectionBodySchema,
  KycReviewListSchema,
  KycReviewQuerySchema,
  KycSubmissionSchema,
  OwnKycSchema,
} from './kyc.schemas.ts';
import { type KycServices, listKycForReview, listOwnKyc, reviewKyc, submitKyc } from './kyc.service.ts';

const secured = [{ bearerAuth: [] }];

export const kycRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const services: KycServices = {
    db: app.database.db,
    documentKey: app.config.secretTokenKey,
    validityDays: app.config.money.kycValidityDays,
  };
  registerSubmit(app, services);
  registerOwnRecords(app, services);
  registerReviewQueue(app, services);
  registerApprove(app, services);
  registerReject(app, services);
};

function registerSubmit(app: AppInstance, services: KycServices): void {
  app.post(
    '/v1/kyc',
    {
      config: { permission: 'kyc:submit' },
      schema: {
        tags: ['kyc'],
        summary: 'Submit a KYC record (requested tier and document) for review',
        security: secured,
        body: KycSubmissionSchema,
        response: { 201: KycRecordSchema, ...errorResponses('KYC_ALREADY_PENDING') },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const audit = auditContextFromRequest(request, principal.tenantId);
      const record = await submitKyc(services, principal, audit, request.body);
      return reply.code(201).send(record);
    },
  );
}

function registerOwnRecords(app: AppInstance, services: KycServices): void {
  app.get(
    '/v1/kyc',
    {
      config: { permission: 'kyc:submit' },
      schema: {
        tags: ['kyc'],
        summary: 'Your current KYC tier and your records, newest first',
        security: secured,
        response: { 200: OwnKycSchema, ...errorResponses('UNAUTHENTICATED') },
      },
    },
    async (request) => listOwnKyc(services, requirePrincipal(request)),
  );
}

function registerReviewQueue(app: AppInstance, services: KycServices): void {
  app.get(
    '/v1/admin/kyc',
    {
      config: { permission: 'kyc:review' },
      schema: {
        tags: ['kyc', 'admin'],
        summary: 'Officer: KYC records by status, oldest first, keyset-paginated',
        security: secured,
        querystring: KycReviewQuerySchema,
        response: { 200: KycReviewListSchema, ...errorResponses('VALIDATION_FAILED') },
      },
    },
    async (request) =>
      listKycForReview(services, requirePrincipal(request), {
        status: request.query.status ?? 'pending',
        limit: request.query.limit,
        cursor: request.query.cursor,
      }),
  );
}

function registerApprove(app: AppInstance, services: KycServices): void {
  app.post(
    '/v1/admin/kyc/:id/approve',
    {
      config: { permission: 'kyc:review' },
      schema: {
        tags: ['kyc', 'admin'],
        summary: "Officer: approve a pending record; the customer's tier becomes its tier until it expires",
        security: secured,
        params: KycRecordParamsSchema,
        response: { 200: KycRecordSchema, ...errorResponses('NOT_FOUND', 'KYC_NOT_PENDING') },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const audit = auditContextFromRequest(request, principal.tenantId);
      return reviewKyc(services, principal, audit, request.params.id, { approve: true });
    },
  );
}

function registerReject(app: AppInstance, services: KycServices): void {
  app.post(
    '/v1/admin/kyc/:id/reject',
    {
      config: { permission: 'kyc:review' },
      schema: {
        tags: ['kyc', 'admin'],
        summary: 'Officer: reject a pending record with a reason',
        security: secured,
        params: KycRecordParamsSchema,
        body: KycRejectionBodySchema,
        response: { 200: KycRecordSchema, ...errorResponses('NOT_FOUND', 'KYC_NOT_PENDING') },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const reason = request.body.reason.trim();
      if (reason.length < 3) {
        throw new AppError('VALIDATION_FAILED', undefined, [
          { field: 'body.reason', reason: 'must not be blank' },
        ]);
      }
      const audit = auditContextFromRequest(request, principal.tenantId);
      return reviewKyc(services, principal, audit, request.params.id, { approve: false, reason });
    },
  );
}
