import { Type } from '@sinclair/typebox';
import { ErrorResponseSchema } from '../../platform/openapi.ts';
import {
  AmountSchema,
  AssetSchema,
  DescriptionSchema,
  MoneyMovementSchema,
} from '../transactions/transactions.schemas.ts';

export const transferBatchItemsMax = 1000;

const AccountNumberSchema = Type.String({
  pattern: '^[0-9]{8,20}$',
  maxLength: 20,
  description: 'The recipient’s account number.',
  examples: ['1234567802'],
});

export const TransferBodySchema = Type.Object(
  {
    to_account_number: AccountNumberSchema,
    amount: AmountSchema,
    asset: Type.Optional(AssetSchema),
    description: Type.Optional(DescriptionSchema),
  },
  {
    additionalProperties: false,
    examples: [{ to_account_number: '1234567802', amount: 150000, description: 'Rent share' }],
  },
);

const BatchItemSchema = Type.Object(
  {
    to_account_number: AccountNumberSchema,
    amount: AmountSchema,
    asset: Type.Optional(AssetSchema),
    description: Type.Optional(DescriptionSchema),
    reference: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        pattern: '^[\\x21-\\x7e]+$',
        description: 'Your reference for this item, unique within the batch; returned with its outcome.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const TransferBatchBodySchema = Type.Object(
  {
    transfers: Type.Array(BatchItemSchema, { minItems: 1, maxItems: transferBatchItemsMax }),
    atomic: Type.Boolean({
      description:
        'true: all transfers or none (the first failing item is named); false: an outcome per item.',
    }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        atomic: true,
        transfers: [
          { to_account_number: '1234567802', amount: 150000, reference: 'rent-nov' },
          { to_account_number: '1234567803', amount: 20000, description: 'Lunch', reference: 'lunch' },
        ],
      },
    ],
  },
);

const CompletedItemSchema = Type.Composite([
  Type.Omit(MoneyMovementSchema, ['user_id']),
  Type.Object({
    index: Type.Integer({ minimum: 0 }),
    reference: Type.Union([Type.String({ maxLength: 64 }), Type.Null()]),
  }),
]);

const RejectedItemSchema = Type.Object(
  {
    index: Type.Integer({ minimum: 0 }),
    reference: Type.Union([Type.String({ maxLength: 64 }), Type.Null()]),
    status: Type.Literal('rejected'),
    error: Type.Omit(ErrorResponseSchema.properties.error, ['request_id']),
  },
  { additionalProperties: false },
);

export const TransferBatchResponseSchema = Type.Object(
  {
    atomic: Type.Boolean(),
    status: Type.Union([Type.Literal('completed'), Type.Literal('partial'), Type.Literal('rejected')]),
    completed: Type.Integer({ minimum: 0 }),
    rejected: Type.Integer({ minimum: 0 }),
    items: Type.Array(Type.Union([CompletedItemSchema, RejectedItemSchema]), {
      maxItems: transferBatchItemsMax,
    }),
  },
  { additionalProperties: false },
);
