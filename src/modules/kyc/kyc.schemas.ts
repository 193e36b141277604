import { Type } from '@sinclair/typebox';
import { CursorQuerySchema, NextCursorSchema } from '../../platform/pagination.ts';
import { IdParamsSchema, JsonNumberSchema, PageLimitSchema } from '../../platform/schema-types.ts';

export const KycStatusSchema = Type.Union([
  Type.Literal('pending'),
  Type.Literal('approved'),
  Type.Literal('rejected'),
  Type.Literal('expired'),
]);
const DocumentTypeSchema = Type.Union([
  Type.Literal('national_id'),
  Type.Literal('passport'),
  Type.Literal('driving_license'),
  Type.Literal('residence_permit'),
]);
const nullableTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

export const KycRecordSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    user_id: Type.String({ format: 'uuid' }),
    tier_level: Type.Integer({ minimum: 0, maximum: 2 }),
    status: KycStatusSchema,
    document_type: Type.Union([DocumentTypeSchema, Type.Null()]),
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

export const KycSubmissionSchema = Type.Object(
  {
    tier_level: Type.Union([Type.Literal(1), Type.Literal(2)]),
    document_type: DocumentTypeSchema,
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

export const KycRecordParamsSchema = IdParamsSchema('The KYC record.');

/** A customer's own records (the most recent) with their current tier. */
export const OwnKycSchema = Type.Object(
  {
    kyc_tier: Type.Integer({ minimum: 0, maximum: 2 }),
    records: Type.Array(KycRecordSchema, { maxItems: 20 }),
  },
  { additionalProperties: false, examples: [{ kyc_tier: 0, records: KycRecordSchema.examples }] },
);

export const KycReviewQuerySchema = Type.Object(
  {
    status: Type.Optional(KycStatusSchema),
    limit: PageLimitSchema(50),
    cursor: CursorQuerySchema,
  },
  { additionalProperties: false },
);

export const KycReviewListSchema = Type.Object(
  { records: Type.Array(KycRecordSchema, { maxItems: 100 }), next_cursor: NextCursorSchema },
  {
    additionalProperties: false,
    examples: [{ records: KycRecordSchema.examples, next_cursor: null }],
  },
);

export const KycRejectionBodySchema = Type.Object(
  {
    reason: Type.String({
      minLength: 3,
      maxLength: 500,
      examples: ['Document image is not legible'],
    }),
  },
  { additionalProperties: false },
);
