import { type Static, Type } from '@sinclair/typebox';
import { ErrorResponseSchema } from '../../platform/openapi.ts';
import { UuidSchema } from '../../platform/schema-types.ts';
import { AmountSchema, AssetSchema, DescriptionSchema } from '../transactions/transactions.schemas.ts';

export const disbursementItemsMax = 1000;

/** The system wallets a disbursement may pay from: cash-out only receives (withdrawals, captures). */
export const disbursementSourcePurposes = ['cash_in', 'fees'] as const;
export type DisbursementSourcePurpose = (typeof disbursementSourcePurposes)[number];

const ReferenceSchema = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[\\x21-\\x7e]+$',
  description: 'Your reference for this item, unique within the batch; returned with its outcome.',
});

const DisbursementItemSchema = Type.Object(
  {
    to_account_number: Type.String({
      pattern: '^[0-9]{8,20}$',
      maxLength: 20,
      description: 'The recipient customer’s account number.',
    }),
    amount: AmountSchema,
    description: Type.Optional(DescriptionSchema),
    reference: Type.Optional(ReferenceSchema),
  },
  { additionalProperties: false },
);

export const DisbursementBodySchema = Type.Object(
  {
    source: Type.Union(
      [
        ...disbursementSourcePurposes.map((purpose) => Type.Literal(purpose)),
        UuidSchema({ description: 'A system wallet of the tenant, by id.' }),
      ],
      {
        description:
          "The tenant's system wallet that pays: 'cash_in' issues new money (counted against your maker–checker threshold of the day), 'fees' pays from collected fees; or a system wallet's id.",
      },
    ),
    asset: Type.Optional(AssetSchema),
    transfers: Type.Array(DisbursementItemSchema, { minItems: 1, maxItems: disbursementItemsMax }),
    atomic: Type.Boolean({
      description: 'true: every item or none (the first failing item is named); false: an outcome per item.',
    }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        source: 'fees',
        atomic: true,
        transfers: [
          { to_account_number: '1234567802', amount: 150000, reference: 'cashback-nov-1' },
          {
            to_account_number: '1234567803',
            amount: 20000,
            description: 'Cashback',
            reference: 'cashback-nov-2',
          },
        ],
      },
    ],
  },
);
export type DisbursementBody = Static<typeof DisbursementBodySchema>;

/** A disbursement needs its key: a retried batch of new money must never pay twice. */
export const DisbursementHeadersSchema = Type.Object({
  'idempotency-key': Type.String({
    minLength: 1,
    maxLength: 255,
    pattern: '^[\\x21-\\x7e]+$',
    description: 'Required. Repeat the request with the same key and body to get the original response.',
    examples: ['8c1f0f3e-5b7a-4c57-9a43-5d0c6a1e2b11'],
  }),
});

const nullableReference = Type.Union([Type.String({ maxLength: 64 }), Type.Null()]);

const CompletedItemSchema = Type.Object(
  {
    index: Type.Integer({ minimum: 0 }),
    reference: nullableReference,
    status: Type.Literal('completed'),
    transaction_id: Type.String({ format: 'uuid', description: 'The movement of this item.' }),
    entry_id: Type.String({ format: 'uuid', description: "The recipient's ledger entry." }),
    type: Type.Union([Type.Literal('topup'), Type.Literal('transfer_in')], {
      description: "The recipient's entry type: topup from cash_in, transfer_in from any other source.",
    }),
    asset: Type.String({ maxLength: 16 }),
    amount: Type.Integer({ minimum: 1 }),
    to_account_number: Type.String({ maxLength: 20 }),
    user_id: Type.String({ format: 'uuid', description: 'The recipient.' }),
    description: Type.Union([Type.String({ maxLength: 500 }), Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

const RejectedItemSchema = Type.Object(
  {
    index: Type.Integer({ minimum: 0 }),
    reference: nullableReference,
    status: Type.Literal('rejected'),
    error: Type.Omit(ErrorResponseSchema.properties.error, ['request_id']),
  },
  { additionalProperties: false },
);

export const DisbursementResponseSchema = Type.Object(
  {
    disbursement_id: Type.String({ format: 'uuid', description: 'The batch, as its audit row names it.' }),
    source: Type.Object(
      {
        wallet_id: Type.String({ format: 'uuid' }),
        purpose: Type.Union(disbursementSourcePurposes.map((purpose) => Type.Literal(purpose))),
      },
      { additionalProperties: false },
    ),
    asset: Type.String({ maxLength: 16 }),
    atomic: Type.Boolean(),
    status: Type.Union([Type.Literal('completed'), Type.Literal('partial'), Type.Literal('rejected')]),
    completed: Type.Integer({ minimum: 0 }),
    rejected: Type.Integer({ minimum: 0 }),
    total_amount: Type.Integer({
      minimum: 0,
      description: 'The sum of the completed items, in minor units.',
    }),
    items: Type.Array(Type.Union([CompletedItemSchema, RejectedItemSchema]), {
      maxItems: disbursementItemsMax,
    }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        disbursement_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d60',
        source: { wallet_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d61', purpose: 'fees' },
        asset: 'IDR',
        atomic: false,
        status: 'partial',
        completed: 1,
        rejected: 1,
        total_amount: 150000,
        items: [
          {
            index: 0,
            reference: 'cashback-nov-1',
            status: 'completed',
            transaction_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e',
            entry_id: '0193a5c2-7d1f-7b3c-9f00-5a1f3c2b4d6f',
            type: 'transfer_in',
            asset: 'IDR',
            amount: 150000,
            to_account_number: '1234567802',
            user_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d62',
            description: null,
            created_at: '2026-11-22T10:00:00.000Z',
          },
          {
            index: 1,
            reference: 'cashback-nov-2',
            status: 'rejected',
            error: {
              code: 'RECIPIENT_NOT_FOUND',
              message: 'No account with this account number.',
              details: [{ field: 'body.transfers.1.to_account_number', reason: 'matches no account' }],
            },
          },
        ],
      },
    ],
  },
);
