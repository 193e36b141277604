import { type Static, Type } from '@sinclair/typebox';
import { CursorQuerySchema, NextCursorSchema } from '../../platform/pagination.ts';
import { DateTimeSchema, IdParamsSchema, PageLimitSchema } from '../../platform/schema-types.ts';

/** Amounts are whole minor units (IDR sen, satoshi): 1 … 2^53−1; the asset's own maximum is checked by the service. */
export const AmountSchema = Type.Integer({
  minimum: 1,
  maximum: Number.MAX_SAFE_INTEGER,
  description:
    'Positive whole number of minor units of the asset (IDR has 2 decimals: 150000 = Rp 1,500.00).',
  examples: [150000],
});

export const AssetSchema = Type.String({
  pattern: '^[A-Za-z0-9]{2,16}$',
  maxLength: 16,
  description: 'Asset code; IDR when omitted.',
  examples: ['IDR'],
});

export const DescriptionSchema = Type.String({ minLength: 1, maxLength: 500, examples: ['Rent share'] });

/** Codes every money movement can answer with: money-rules, the idempotency key, the ledger transaction. */
export const moneyMovementErrorCodes = [
  'NOT_FOUND',
  'ACCOUNT_BLOCKED',
  'KYC_LIMIT_EXCEEDED',
  'IDEMPOTENCY_KEY_REUSED',
  'MAINTENANCE_MODE',
  'TRANSACTION_CONFLICT',
  'BALANCE_LIMIT_EXCEEDED',
  'SUPPLY_LIMIT_EXCEEDED',
] as const;

export const IdempotencyHeadersSchema = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: '^[\\x21-\\x7e]+$',
      description:
        'Repeat a request with the same key and body to get the original response instead of a second effect.',
      examples: ['8c1f0f3e-5b7a-4c57-9a43-5d0c6a1e2b11'],
    }),
  ),
});

export const TopupBodySchema = Type.Object(
  { amount: AmountSchema, asset: Type.Optional(AssetSchema), description: Type.Optional(DescriptionSchema) },
  { additionalProperties: false, examples: [{ amount: 5000000, description: 'Top-up from BCA' }] },
);
export type TopupBody = Static<typeof TopupBodySchema>;

export const UserIdParamsSchema = IdParamsSchema('The customer.');

const nullableString = (maxLength: number) => Type.Union([Type.String({ maxLength }), Type.Null()]);

export const MoneyMovementSchema = Type.Object(
  {
    transaction_id: Type.String({
      format: 'uuid',
      description: 'The movement: every entry it wrote shares this id.',
    }),
    entry_id: Type.String({ format: 'uuid' }),
    user_id: Type.Optional(Type.String({ format: 'uuid' })),
    type: Type.Union([Type.Literal('topup'), Type.Literal('transfer_out')]),
    status: Type.Literal('completed'),
    asset: Type.String({ maxLength: 16 }),
    amount: Type.Integer({ minimum: 1 }),
    to_account_number: Type.Optional(Type.String({ maxLength: 50 })),
    description: nullableString(500),
    balance_before: Type.Integer(),
    balance_after: Type.Integer(),
    created_at: Type.String({ format: 'date-time' }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        transaction_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e',
        entry_id: '0193a5c2-7d1f-7b3c-9f00-5a1f3c2b4d6f',
        type: 'transfer_out',
        status: 'completed',
        asset: 'IDR',
        amount: 150000,
        to_account_number: '1234567802',
        description: 'Rent share',
        balance_before: 5000000,
        balance_after: 4850000,
        created_at: '2026-11-22T10:00:00.000Z',
      },
    ],
  },
);

export const StatementQuerySchema = Type.Object(
  {
    cursor: CursorQuerySchema,
    limit: PageLimitSchema(20),
    type: Type.Optional(
      Type.Union([
        Type.Literal('topup'),
        Type.Literal('withdraw'),
        Type.Literal('transfer_out'),
        Type.Literal('transfer_in'),
        Type.Literal('fee'),
        Type.Literal('hold_capture'),
      ]),
    ),
    asset: Type.Optional(AssetSchema),
    from: Type.Optional(DateTimeSchema({ description: 'Entries at or after this instant.' })),
    to: Type.Optional(DateTimeSchema({ description: 'Entries before this instant.' })),
  },
  { additionalProperties: false },
);
export type StatementQuery = Static<typeof StatementQuerySchema>;

export const StatementEntrySchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    transaction_id: Type.String({ format: 'uuid' }),
    user_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    type: Type.String({ maxLength: 50 }),
    status: Type.String({ maxLength: 50 }),
    asset: Type.String({ maxLength: 16 }),
    amount: Type.Integer({ minimum: 1 }),
    balance_before: Type.Integer(),
    balance_after: Type.Integer(),
    entry_sequence: Type.Integer({ minimum: 1 }),
    description: nullableString(500),
    operation_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export const StatementSchema = Type.Object(
  {
    transactions: Type.Array(StatementEntrySchema, { maxItems: 100 }),
    next_cursor: NextCursorSchema,
  },
  {
    additionalProperties: false,
    examples: [
      {
        transactions: [
          {
            id: '0193a5c2-7d1f-7b3c-9f00-5a1f3c2b4d6f',
            transaction_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e',
            user_id: '0193a5c2-0000-7b3c-9f00-5a1f3c2b4d6e',
            type: 'transfer_out',
            status: 'completed',
            asset: 'IDR',
            amount: 150000,
            balance_before: 5000000,
            balance_after: 4850000,
            entry_sequence: 4,
            description: 'Rent share',
            operation_id: null,
            created_at: '2026-11-22T10:00:00.000Z',
          },
        ],
        next_cursor: null,
      },
    ],
  },
);

/** A staff top-up above the approval threshold (maker–checker, issue 7.6). */
export const TopupApprovalSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    status: Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('rejected')]),
    user_id: Type.String({ format: 'uuid', description: 'The customer to be credited.' }),
    asset: Type.String({ maxLength: 16 }),
    amount: Type.Integer({ minimum: 1 }),
    description: nullableString(500),
    maker_id: Type.String({ format: 'uuid', description: 'The staff member who asked for the top-up.' }),
    checker_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    rejection_reason: nullableString(500),
    transaction_id: Type.Union([
      Type.String({ format: 'uuid', description: 'The movement the approval posted.' }),
      Type.Null(),
    ]),
    created_at: Type.String({ format: 'date-time' }),
    decided_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  {
    additionalProperties: false,
    examples: [
      {
        id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d70',
        status: 'pending',
        user_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e',
        asset: 'IDR',
        amount: 5000000000,
        description: 'Branch cash deposit',
        maker_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d71',
        checker_id: null,
        rejection_reason: null,
        transaction_id: null,
        created_at: '2026-11-22T10:00:00.000Z',
        decided_at: null,
      },
    ],
  },
);

export const TopupApprovalListQuerySchema = Type.Object(
  {
    status: Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('rejected')], {
      default: 'pending',
    }),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: CursorQuerySchema,
  },
  { additionalProperties: false },
);

export const TopupApprovalListSchema = Type.Object(
  {
    approvals: Type.Array(TopupApprovalSchema, { maxItems: 100 }),
    next_cursor: NextCursorSchema,
  },
  { additionalProperties: false },
);

export const RejectionBodySchema = Type.Object(
  { reason: Type.String({ minLength: 3, maxLength: 500, examples: ['No matching cash deposit slip'] }) },
  { additionalProperties: false, examples: [{ reason: 'No matching cash deposit slip' }] },
);
export type RejectionBody = Static<typeof RejectionBodySchema>;

export const ApprovalIdParamsSchema = IdParamsSchema('The top-up request.');
