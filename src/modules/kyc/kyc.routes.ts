import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { CursorQuerySchema, NextCursorSchema } from '../../platform/pagination.ts';
import { IdParamsSchema, JsonNumberSchema, PageLimitSchema } from '../../platform/schema-types.ts';
import { type KycServices, listKycForReview, listOwnKyc, reviewKyc, submitKyc } from './kyc.service.ts';

const KycStatusSchema = Type.Union([
  Type.Literal('pending'),
  Type.Literal('approved'),
  Type.Literal('rejected'),
  Type.Literal('expired'),
]);
const DocumentType = Type.Union([
  Type.Literal('national_id'),
  Type.Literal('passport'),
  Type.Literal('driving_license'),
  Type.Literal('residence_permit'),
]);
const nullableTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

const KycRecordSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    user_id: Type.String({ format: 'uuid' }),
    tier_level: Type.Integer({ minimum: 0, maximum: 2 }),
    status: KycStatusSchema,
    document_type: Type.Union([DocumentType, Type.Null()]),
    document_country: Type.Union([Type.String({ maxLength: 2 }), Type.Null()]),
    rejection_reason: Type.Union([Type.String({ maxLength: 500 }), Type.Null()]),
    submitted_at: Type.String({ format: 'date-time' }),
    reviewed_at: nullableTime,
    approved_at: nullableTime,
    expires_at: nullableTime,
  },
  {
    additionalProperties: false,
    examples: [
      {
        id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e',
        user_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6f',
        tier_level: 1,
        status: 'pending',
        document_type: 'national_id',
        document_country: 'ID',
        rejection_reason: null,
        submitted_at: '2026-11-22T10:00:00.000Z',
        reviewed_at: null,
        approved_at: null,
        expires_at: null,
      },
    ],
  },
);

const SubmissionSchema = Type.Object(
  {
    tier_level: Type.Union([Type.Literal(1), Type.Literal(2)]),
    document_type: DocumentType,
    document_country: Type.String({
      pattern: '^[A-Z]{2}$',
      maxLength: 2,
      description: 'ISO 3166-1 alpha-2.',
    }),
    document_number: Type.String({
      minLength: 4,
      maxLength: 50,
      pattern: '^[0-9A-Za-z-]+$',
      description: 'Stored only as a keyed hash.',
    }),
    verification_data: Type.Optional(
      Type.Record(
        Type.String(),
        Type.Union([Type.String({ maxLength: 500 }), JsonNumberSchema, Type.Boolean()]),
        {
          maxProperties: 20,
          propertyNames: { maxLength: 64 },
        },
      ),
    ),
  },
  {
    additionalProperties: false,
    examples: [
      {
        tier_level: 1,
        document_type: 'national_id',
        document_country: 'ID',
        document_number: '3174012345670001',
      },
    ],
  },
);

const IdParams = IdParamsSchema('The KYC record.');

export const kycRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const services: KycServices = {
    db: app.database.db,
    documentKey: app.config.secretTokenKey,
    validityDays: app.config.money.kycValidityDays,
  };

  app.post(
    '/v1/kyc',
    {
      config: { permission: 'kyc:submit' },
      schema: {
        tags: ['kyc'],
        summary: 'Submit a KYC record (requested tier and document) for review',
        security: [{ bearerAuth: [] }],
        body: SubmissionSchema,
        response: { 201: KycRecordSchema, ...errorResponses('KYC_ALREADY_PENDING') },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const record = await submitKyc(
        services,
        principal,
        auditContextFromRequest(request, principal.tenantId),
        request.body,
      );
      return reply.code(201).send(record);
    },
  );

  app.get(
    '/v1/kyc',
    {
      config: { permission: 'kyc:submit' },
      schema: {
        tags: ['kyc'],
        summary: 'Your current KYC tier and your records, newest first',
        security: [{ bearerAuth: [] }],
        response: {
          200: Type.Object(
            {
              kyc_tier: Type.Integer({ minimum: 0, maximum: 2 }),
              records: Type.Array(KycRecordSchema, { maxItems: 20 }),
            },
            { additionalProperties: false, examples: [{ kyc_tier: 0, records: KycRecordSchema.examples }] },
          ),
          ...errorResponses('UNAUTHENTICATED'),
        },
      },
    },
    async (request) => listOwnKyc(services, requirePrincipal(request)),
  );

  app.get(
    '/v1/admin/kyc',
    {
      config: { permission: 'kyc:review' },
      schema: {
        tags: ['kyc', 'admin'],
        summary: 'Officer: KYC records by status, oldest first, keyset-paginated',
        security: [{ bearerAuth: [] }],
        querystring: Type.Object(
          {
            status: Type.Optional(KycStatusSchema),
            limit: PageLimitSchema(50),
            cursor: CursorQuerySchema,
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(
            { records: Type.Array(KycRecordSchema, { maxItems: 100 }), next_cursor: NextCursorSchema },
            {
              additionalProperties: false,
              examples: [{ records: KycRecordSchema.examples, next_cursor: null }],
            },
          ),
          ...errorResponses('VALIDATION_FAILED'),
        },
      },
    },
    async (request) =>
      listKycForReview(services, requirePrincipal(request), {
        status: request.query.status ?? 'pending',
        limit: request.query.limit,
        cursor: request.query.cursor,
      }),
  );

  app.post(
    '/v1/admin/kyc/:id/approve',
    {
      config: { permission: 'kyc:review' },
      schema: {
        tags: ['kyc', 'admin'],
        summary: "Officer: approve a pending record; the customer's tier becomes its tier until it expires",
        security: [{ bearerAuth: [] }],
        params: IdParams,
        response: { 200: KycRecordSchema, ...errorResponses('NOT_FOUND', 'KYC_NOT_PENDING') },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      return reviewKyc(
        services,
        principal,
        auditContextFromRequest(request, principal.tenantId),
        request.params.id,
        { approve: true },
      );
    },
  );

  app.post(
    '/v1/admin/kyc/:id/reject',
    {
      config: { permission: 'kyc:review' },
      schema: {
        tags: ['kyc', 'admin'],
        summary: 'Officer: reject a pending record with a reason',
        security: [{ bearerAuth: [] }],
        params: IdParams,
        body: Type.Object(
          {
            reason: Type.String({
              minLength: 3,
              maxLength: 500,
              examples: ['Document image is not legible'],
            }),
          },
          { additionalProperties: false },
        ),
        response: { 200: KycRecordSchema, ...errorResponses('NOT_FOUND', 'KYC_NOT_PENDING') },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      if (request.body.reason.trim().length < 3) {
        throw new AppError('VALIDATION_FAILED', undefined, [
          { field: 'body.reason', reason: 'must not be blank' },
        ]);
      }
      return reviewKyc(
        services,
        principal,
        auditContextFromRequest(request, principal.tenantId),
        request.params.id,
        {
          approve: false,
          reason: request.body.reason.trim(),
        },
      );
    },
  );
};
