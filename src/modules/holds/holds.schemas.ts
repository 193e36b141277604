import { Type } from '@sinclair/typebox';
import { CursorQuerySchema, NextCursorSchema } from '../../platform/pagination.ts';
import { IdParamsSchema, PageLimitSchema, UuidSchema } from '../../platform/schema-types.ts';
import { AmountSchema, AssetSchema } from '../transactions/transactions.schemas.ts';

const nullableTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

export const HoldSchema = Type.Object(
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

export const PlaceHoldBodySchema = Type.Object(
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

export const HoldParamsSchema = IdParamsSchema('The hold.');
export const CustomerParamsSchema = IdParamsSchema('The customer.');

export const HoldListQuerySchema = Type.Object(
  { limit: PageLimitSchema(50), cursor: CursorQuerySchema },
  { additionalProperties: false },
);

export const HoldListSchema = Type.Object(
  { holds: Type.Array(HoldSchema, { maxItems: 100 }), next_cursor: NextCursorSchema },
  { additionalProperties: false, examples: [{ holds: HoldSchema.examples, next_cursor: null }] },
);
