import { type Static, Type } from '@sinclair/typebox';
import { CursorQuerySchema, NextCursorSchema } from '../../platform/pagination.ts';
import { DateTimeSchema, IdParamsSchema, PageLimitSchema, UuidSchema } from '../../platform/schema-types.ts';

const nullableTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

export const LegalHoldSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    user_id: Type.String({ format: 'uuid' }),
    reason: Type.String({ maxLength: 500 }),
    case_reference: Type.Union([Type.String({ maxLength: 100 }), Type.Null()]),
    placed_by: Type.String({ format: 'uuid' }),
    placed_at: Type.String({ format: 'date-time' }),
    expires_at: nullableTime,
    released_at: nullableTime,
    released_by: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    release_reason: Type.Union([Type.String({ maxLength: 500 }), Type.Null()]),
    in_force: Type.Boolean({ description: 'Not released and not past its expiry.' }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e',
        user_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6f',
        reason: 'Court order: preserve account records',
        case_reference: 'CASE-2026-0042',
        placed_by: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d70',
        placed_at: '2026-12-07T10:00:00.000Z',
        expires_at: null,
        released_at: null,
        released_by: null,
        release_reason: null,
        in_force: true,
      },
    ],
  },
);
export type LegalHoldView = Static<typeof LegalHoldSchema>;

export const PlaceLegalHoldBodySchema = Type.Object(
  {
    user_id: UuidSchema({ description: 'The customer whose data is preserved.' }),
    reason: Type.String({
      minLength: 3,
      maxLength: 500,
      examples: ['Court order: preserve account records'],
    }),
    case_reference: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, examples: ['CASE-2026-0042'] }),
    ),
    expires_at: Type.Optional(
      DateTimeSchema({ description: 'In force until released when absent; a future time.' }),
    ),
  },
  { additionalProperties: false },
);
export type PlaceLegalHoldBody = Static<typeof PlaceLegalHoldBodySchema>;

export const ReleaseLegalHoldBodySchema = Type.Object(
  { reason: Type.String({ minLength: 3, maxLength: 500, examples: ['Case closed'] }) },
  { additionalProperties: false },
);

export const LegalHoldParamsSchema = IdParamsSchema('The legal hold.');

export const LegalHoldListQuerySchema = Type.Object(
  {
    user_id: Type.Optional(UuidSchema({ description: 'Only the holds of this customer.' })),
    in_force: Type.Optional(Type.Boolean({ description: 'Only the holds in force now.' })),
    limit: PageLimitSchema(50),
    cursor: CursorQuerySchema,
  },
  { additionalProperties: false },
);
export type LegalHoldListQuery = Static<typeof LegalHoldListQuerySchema>;

export const LegalHoldListSchema = Type.Object(
  { legal_holds: Type.Array(LegalHoldSchema, { maxItems: 100 }), next_cursor: NextCursorSchema },
  { additionalProperties: false },
);
