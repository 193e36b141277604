import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { IdParamsSchema } from '../../platform/schema-types.ts';
import {
  addBankAccount,
  bankAccountsPerUserMax,
  deleteBankAccount,
  listBankAccounts,
  setPrimaryBankAccount,
  updateBankAccount,
} from './bank-accounts.service.ts';

const AccountType = Type.Union([Type.Literal('saving'), Type.Literal('checking'), Type.Literal('current')]);
const AccountName = Type.String({ minLength: 3, maxLength: 100, examples: ['Alice Wijaya'] });
const BankName = Type.String({ minLength: 1, maxLength: 100, examples: ['Bank Central Asia'] });
const BankCode = Type.String({ pattern: '^[0-9A-Za-z]{1,10}$', maxLength: 10, examples: ['014'] });

const BankAccountSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    account_number: Type.String({ maxLength: 50 }),
    account_name: Type.String({ maxLength: 100 }),
    bank_name: Type.Union([Type.String({ maxLength: 100 }), Type.Null()]),
    bank_code: Type.Union([Type.String({ maxLength: 10 }), Type.Null()]),
    account_type: Type.Union([AccountType, Type.Null()]),
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

const NewBankAccountSchema = Type.Object(
  {
    account_number: Type.String({
      pattern: '^[0-9]{8,20}$',
      maxLength: 20,
      description: '8-20 digits.',
      examples: ['0140012345678'],
    }),
    account_name: AccountName,
    bank_name: Type.Optional(BankName),
    bank_code: Type.Optional(BankCode),
    account_type: Type.Optional(AccountType),
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

const BankAccountChangesSchema = Type.Object(
  {
    account_name: Type.Optional(AccountName),
    bank_name: Type.Optional(BankName),
    bank_code: Type.Optional(BankCode),
    account_type: Type.Optional(AccountType),
  },
  { additionalProperties: false, minProperties: 1, examples: [{ account_name: 'Alice W. Wijaya' }] },
);

const IdParams = IdParamsSchema('One of your linked bank accounts.');

export const bankAccountsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const db = app.database.db;
  const common = { tags: ['bank-accounts'], security: [{ bearerAuth: [] }] };
  const config = { permission: 'bank_accounts:manage_own' };

  app.get(
    '/v1/bank-accounts',
    {
      config,
      schema: {
        ...common,
        summary: 'Your linked bank accounts, primary first',
        querystring: Type.Object(
          { include_inactive: Type.Boolean({ default: false }) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(
            { bank_accounts: Type.Array(BankAccountSchema, { maxItems: bankAccountsPerUserMax }) },
            { additionalProperties: false, examples: [{ bank_accounts: BankAccountSchema.examples }] },
          ),
          ...errorResponses('VALIDATION_FAILED'),
        },
      },
    },
    async (request) => ({
      bank_accounts: await listBankAccounts(db, requirePrincipal(request), request.query.include_inactive),
    }),
  );

  app.post(
    '/v1/bank-accounts',
    {
      config,
      schema: {
        ...common,
        summary: 'Link a bank account',
        body: NewBankAccountSchema,
        response: { 201: BankAccountSchema, ...errorResponses('BANK_ACCOUNT_EXISTS', 'CONFLICT') },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const account = await addBankAccount(
        db,
        principal,
        auditContextFromRequest(request, principal.tenantId),
        request.body,
      );
      return reply.code(201).send(account);
    },
  );

  app.put(
    '/v1/bank-accounts/:id',
    {
      config,
      schema: {
        ...common,
        summary: 'Change the name, bank or type of a linked account',
        params: IdParams,
        body: BankAccountChangesSchema,
        response: { 200: BankAccountSchema, ...errorResponses('NOT_FOUND', 'BANK_ACCOUNT_INACTIVE') },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      return updateBankAccount(
        db,
        principal,
        auditContextFromRequest(request, principal.tenantId),
        request.params.id,
        request.body,
      );
    },
  );

  app.put(
    '/v1/bank-accounts/:id/primary',
    {
      config,
      schema: {
        ...common,
        summary: 'Make this account the primary one',
        params: IdParams,
        response: { 200: BankAccountSchema, ...errorResponses('NOT_FOUND', 'BANK_ACCOUNT_INACTIVE') },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      return setPrimaryBankAccount(
        db,
        principal,
        auditContextFromRequest(request, principal.tenantId),
        request.params.id,
      );
    },
  );

  app.delete(
    '/v1/bank-accounts/:id',
    {
      config,
      schema: {
        ...common,
        summary: 'Unlink (soft delete: is_active = false)',
        params: IdParams,
        response: { 200: BankAccountSchema, ...errorResponses('NOT_FOUND', 'BANK_ACCOUNT_INACTIVE') },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      return deleteBankAccount(
        db,
        principal,
        auditContextFromRequest(request, principal.tenantId),
        request.params.id,
      );
    },
  );
};
