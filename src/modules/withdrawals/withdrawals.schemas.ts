import { Type } from '@sinclair/typebox';
import { IdParamsSchema, UuidSchema } from '../../platform/schema-types.ts';
import { AmountSchema, AssetSchema } from '../transactions/transactions.schemas.ts';

export const WithdrawBodySchema = Type.Object(
  {
    amount: AmountSchema,
    asset: Type.Optional(AssetSchema),
    bank_account_id: UuidSchema({ description: 'One of your active linked bank accounts.' }),
  },
  {
    additionalProperties: false,
    examples: [{ amount: 2000000, bank_account_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e' }],
  },
);

const nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

export const WithdrawalSchema = Type.Object(
  {
    operation_id: Type.String({ format: 'uuid' }),
    type: Type.Literal('withdrawal'),
    status: Type.Union([
      Type.Literal('pending'),
      Type.Literal('processing'),
      Type.Literal('completed'),
      Type.Literal('failed'),
    ]),
    asset: Type.String({ maxLength: 16 }),
    amount: Type.Integer({ minimum: 1 }),
    bank_account_id: Type.String({ format: 'uuid' }),
    hold_id: Type.String({ format: 'uuid' }),
    external_reference: Type.Optional(nullable(Type.String({ maxLength: 255 }))),
    error_message: Type.Optional(nullable(Type.String({ maxLength: 2000 }))),
    created_at: Type.String({ format: 'date-time' }),
    completed_at: Type.Optional(nullable(Type.String({ format: 'date-time' }))),
  },
  {
    additionalProperties: false,
    examples: [
      {
        operation_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e',
        type: 'withdrawal',
        status: 'pending',
        asset: 'IDR',
        amount: 2000000,
        bank_account_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6f',
        hold_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d70',
        created_at: '2026-11-22T10:00:00.000Z',
      },
    ],
  },
);

export const WithdrawalParamsSchema = IdParamsSchema('The operation_id of one of your withdrawals.');
