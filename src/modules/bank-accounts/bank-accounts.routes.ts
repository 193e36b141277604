import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import type { AppInstance } from '../../app.ts';
import type { Database } from '../../db/schema.ts';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import {
  BankAccountChangesSchema,
  BankAccountListQuerySchema,
  BankAccountListSchema,
  BankAccountParamsSchema,
  BankAccountSchema,
  NewBankAccountSchema,
} from './bank-accounts.schemas.ts';
import {
  addBankAccount,
  deleteBankAccount,
  listBankAccounts,
  setPrimaryBankAccount,
  updateBankAccount,
} from './bank-accounts.service.ts';

const common = { tags: ['bank-accounts'], security: [{ bearerAuth: [] }] };
const config = { permission: 'bank_accounts:manage_own' };
const accountErrors = errorResponses('NOT_FOUND', 'BANK_ACCOUNT_INACTIVE');

export const bankAccountsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const db = app.database.db;
  registerList(app, db);
  registerAdd(app, db);
  registerUpdate(app, db);
  registerSetPrimary(app, db);
  registerDelete(app, db);
};

function registerList(app: AppInstance, db: Kysely<Database>): void {
  app.get(
    '/v1/bank-accounts',
    {
      config,
      schema: {
        ...common,
        summary: 'Your linked bank accounts, primary first',
        querystring: BankAccountListQuerySchema,
        response: { 200: BankAccountListSchema, ...errorResponses('VALIDATION_FAILED') },
      },
    },
    async (request) => ({
      bank_accounts: await listBankAccounts(db, requirePrincipal(request), request.query.include_inactive),
    }),
  );
}

function registerAdd(app: AppInstance, db: Kysely<Database>): void {
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
      const audit = auditContextFromRequest(request, principal.tenantId);
      const account = await addBankAccount(db, principal, audit, request.body);
      return reply.code(201).send(account);
    },
  );
}

function registerUpdate(app: AppInstance, db: Kysely<Database>): void {
  app.put(
    '/v1/bank-accounts/:id',
    {
      config,
      schema: {
        ...common,
        summary: 'Change the name, bank or type of a linked account',
        params: BankAccountParamsSchema,
        body: BankAccountChangesSchema,
        response: { 200: BankAccountSchema, ...accountErrors },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const audit = auditContextFromRequest(request, principal.tenantId);
      return updateBankAccount(db, principal, audit, request.params.id, request.body);
    },
  );
}

function registerSetPrimary(app: AppInstance, db: Kysely<Database>): void {
  app.put(
    '/v1/bank-accounts/:id/primary',
    {
      config,
      schema: {
        ...common,
        summary: 'Make this account the primary one',
        params: BankAccountParamsSchema,
        response: { 200: BankAccountSchema, ...accountErrors },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const audit = auditContextFromRequest(request, principal.tenantId);
      return setPrimaryBankAccount(db, principal, audit, request.params.id);
    },
  );
}

function registerDelete(app: AppInstance, db: Kysely<Database>): void {
  app.delete(
    '/v1/bank-accounts/:id',
    {
      config,
      schema: {
        ...common,
        summary: 'Unlink (soft delete: is_active = false)',
        params: BankAccountParamsSchema,
        response: { 200: BankAccountSchema, ...accountErrors },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const audit = auditContextFromRequest(request, principal.tenantId);
      return deleteBankAccount(db, principal, audit, request.params.id);
    },
  );
}
