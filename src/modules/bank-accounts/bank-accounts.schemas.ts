import { Type } from '@sinclair/typebox';
import { IdParamsSchema } from '../../platform/schema-types.ts';
import { bankAccountsPerUserMax } from './bank-accounts.service.ts';

const AccountTypeSchema = Type.Union([
  Type.Literal('saving'),
  Type.Literal('checking'),
  Type.Literal('current'),
]);
const AccountNameSchema = Type.String({ minLength: 3, maxLength: 100, examples: ['Alice Wijaya'] });
const BankNameSchema = Type.String({ minLength: 1, maxLength: 100, examples: ['Bank Central Asia'] });
const BankCodeSchema = Type.String({ pattern: '^[0-9A-Za-z]{1,10}$', maxLength: 10, examples: ['014'] });

export const BankAccountSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    account_number: Type.String({ maxLength: 50 }),
    account_name: Type.String({ maxLength: 100 }),
    bank_name: Type.Union([Type.String({ maxLength: 100 }), Type.Null()]),
    bank_code: Type.Union([Type.String({ maxLength: 10 }), Type.Null()]),
    account_type: Type.Union([AccountTypeSchema, Type.Null()]),
    is_active: Type.Boolean(),
    is_primary: Type.Boolean(),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e',
        account_number: '0140012345678',
        account_name: 'Alice Wijaya',
        bank_name: 'Bank Central Asia',
        bank_code: '014',
        account_type: 'checking',
        is_active: true,
        is_primary: true,
        created_at: '2026-11-22T10:00:00.000Z',
        updated_at: '2026-11-22T10:00:00.000Z',
      },
    ],
  },
);

export const NewBankAccountSchema = Type.Object(
  {
    account_number: Type.String({
      pattern: '^[0-9]{8,20}$',
      maxLength: 20,
      description: '8-20 digits.',
      examples: ['0140012345678'],
    }),
    account_name: AccountNameSchema,
    bank_name: Type.Optional(BankNameSchema),
    bank_code: Type.Optional(BankCodeSchema),
    account_type: Type.Optional(AccountTypeSchema),
    is_primary: Type.Optional(
      Type.Boolean({ description: 'Make it the primary account (the first one always is).' }),
    ),
  },
  {
    additionalProperties: false,
    examples: [
      {
        account_number: '0140012345678',
        account_name: 'Alice Wijaya',
        bank_name: 'Bank Central Asia',
        bank_code: '014',
        account_type: 'checking',
      },
    ],
  },
);

export const BankAccountChangesSchema = Type.Object(
  {
    account_name: Type.Optional(AccountNameSchema),
    bank_name: Type.Optional(BankNameSchema),
    bank_code: Type.Optional(BankCodeSchema),
    account_type: Type.Optional(AccountTypeSchema),
  },
  { additionalProperties: false, minProperties: 1, examples: [{ account_name: 'Alice W. Wijaya' }] },
);

export const BankAccountParamsSchema = IdParamsSchema('One of your linked bank accounts.');

export const BankAccountListQuerySchema = Type.Object(
  { include_inactive: Type.Boolean({ default: false }) },
  { additionalProperties: false },
);

export const BankAccountListSchema = Type.Object(
  { bank_accounts: Type.Array(BankAccountSchema, { maxItems: bankAccountsPerUserMax }) },
  { additionalProperties: false, examples: [{ bank_accounts: BankAccountSchema.examples }] },
);
