import type { Kysely } from 'kysely';
import type { BankAccountType, Database } from '../../db/schema.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { lockUserRow } from '../staff/staff-users.repository.ts';
import {
  type BankAccountValues,
  clearPrimaryBankAccount,
  findOldestActiveBankAccount,
  findOwnBankAccount,
  insertBankAccount,
  listAllOwnBankAccounts,
  listOwnBankAccounts,
  promoteBankAccount,
  updateBankAccountRow,
} from './bank-accounts.repository.ts';

export interface BankAccountView {
  id: string;
  account_number: string;
  account_name: string;
  bank_name: string | null;
  bank_code: string | null;
  account_type: BankAccountType | null;
  is_active: boolean;
  is_primary: boolean;
  created_at: string;
  updated_at: string;
}

export interface NewBankAccountInput {
  account_number: string;
  account_name: string;
  bank_name?: string | undefined;
  bank_code?: string | undefined;
  account_type?: BankAccountType | undefined;
  is_primary?: boolean | undefined;
}

export type BankAccountChanges = Partial<
  Pick<NewBankAccountInput, 'account_name' | 'bank_name' | 'bank_code' | 'account_type'>
>;

/** A bound on linked accounts per user, so one customer cannot grow the table without limit. */
export const bankAccountsPerUserMax = 20;

type BankAccountRow = Awaited<ReturnType<typeof insertBankAccount>>;

function view(row: BankAccountRow): BankAccountView {
  return { ...row, created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString() };
}

/**
 * Every change runs as the customer (RLS user scope) and first locks the user's row: changes to one
 * user's accounts serialize, so "exactly one primary" (a unique index plus a deferred trigger) is kept
 * by the code and only proven, never raced, by the database.
 */
async function asOwner<T>(
  db: Kysely<Database>,
  principal: Principal,
  work: (transaction: ScopedTransaction) => Promise<T>,
): Promise<T> {
  return withScope(db, { tenantId: principal.tenantId, userId: principal.userId }, async (transaction) => {
    await lockUserRow(transaction, principal.tenantId, principal.userId);
    return work(transaction);
  });
}

/** The caller's active account, or NOT_FOUND / BANK_ACCOUNT_INACTIVE. */
async function findOwnActive(
  transaction: ScopedTransaction,
  principal: Principal,
  id: string,
): Promise<BankAccountRow> {
  const row = await findOwnBankAccount(transaction, principal.tenantId, principal.userId, id);
  if (!row) throw new AppError('NOT_FOUND', 'The bank account does not exist.');
  if (!row.is_active) throw new AppError('BANK_ACCOUNT_INACTIVE');
  return row;
}

export async function listBankAccounts(
  db: Kysely<Database>,
  principal: Principal,
  includeInactive: boolean,
): Promise<BankAccountView[]> {
  return withScope(db, { tenantId: principal.tenantId, userId: principal.userId }, async (transaction) => {
    const rows = await listOwnBankAccounts(transaction, principal.tenantId, principal.userId, {
      includeInactive,
      limit: bankAccountsPerUserMax,
    });
    return rows.map(view);
  });
}

export async function addBankAccount(
  db: Kysely<Database>,
  principal: Principal,
  audit: AuditContext,
  input: NewBankAccountInput,
): Promise<BankAccountView> {
  return asOwner(db, principal, async (transaction) => {
    const existing = await listAllOwnBankAccounts(transaction, principal.tenantId, principal.userId);
    const same = existing.find((row) => row.account_number === input.account_number);
    if (same?.is_active) {
      throw new AppError('BANK_ACCOUNT_EXISTS', undefined, [
        { field: 'body.account_number', reason: 'is already linked' },
      ]);
    }
    if (!same && existing.length >= bankAccountsPerUserMax) {
      throw new AppError('CONFLICT', `At most ${bankAccountsPerUserMax} bank accounts can be linked.`);
    }
    const hasActive = existing.some((row) => row.is_active);
    const primary = input.is_primary === true || !hasActive;
    if (primary) await clearPrimaryBankAccount(transaction, principal.tenantId, principal.userId);
    const values: BankAccountValues = {
      account_name: input.account_name,
      bank_name: input.bank_name ?? null,
      bank_code: input.bank_code ?? null,
      account_type: input.account_type ?? null,
      is_active: true,
      is_primary: primary,
    };
    // A soft-deleted account linked again comes back to life: (user, account number) stays unique.
    const row = same
      ? await updateBankAccountRow(transaction, principal.tenantId, same.id, values)
      : await insertBankAccount(
          transaction,
          principal.tenantId,
          principal.userId,
          input.account_number,
          values,
        );
    await recordAudit(transaction, audit, {
      entityType: 'bank_account',
      entityId: row.id,
      action: 'CREATE',
      newValues: { account_number: row.account_number, bank_code: row.bank_code, is_primary: row.is_primary },
    });
    return view(row);
  });
}

export async function updateBankAccount(
  db: Kysely<Database>,
  principal: Principal,
  audit: AuditContext,
  id: string,
  changes: BankAccountChanges,
): Promise<BankAccountView> {
  return asOwner(db, principal, async (transaction) => {
    const before = await findOwnActive(transaction, principal, id);
    const row = await updateBankAccountRow(transaction, principal.tenantId, id, changes);
    await recordAudit(transaction, audit, {
      entityType: 'bank_account',
      entityId: id,
      action: 'UPDATE',
      oldValues: {
        account_name: before.account_name,
        bank_name: before.bank_name,
        bank_code: before.bank_code,
        account_type: before.account_type,
      },
      newValues: changes,
    });
    return view(row);
  });
}

export async function setPrimaryBankAccount(
  db: Kysely<Database>,
  principal: Principal,
  audit: AuditContext,
  id: string,
): Promise<BankAccountView> {
  return asOwner(db, principal, async (transaction) => {
    await findOwnActive(transaction, principal, id);
    await clearPrimaryBankAccount(transaction, principal.tenantId, principal.userId);
    const row = await updateBankAccountRow(transaction, principal.tenantId, id, { is_primary: true });
    await recordAudit(transaction, audit, {
      entityType: 'bank_account',
      entityId: id,
      action: 'SET_PRIMARY',
      newValues: { is_primary: true },
    });
    return view(row);
  });
}

/** Soft delete (seed 000): is_active = false. Deleting the primary promotes the oldest other active account. */
export async function deleteBankAccount(
  db: Kysely<Database>,
  principal: Principal,
  audit: AuditContext,
  id: string,
): Promise<BankAccountView> {
  return asOwner(db, principal, async (transaction) => {
    const before = await findOwnActive(transaction, principal, id);
    const row = await updateBankAccountRow(transaction, principal.tenantId, id, {
      is_active: false,
      is_primary: false,
    });
    if (before.is_primary) {
      const next = await findOldestActiveBankAccount(transaction, principal.tenantId, principal.userId);
      if (next) await promoteBankAccount(transaction, principal.tenantId, next.id);
    }
    await recordAudit(transaction, audit, {
      entityType: 'bank_account',
      entityId: id,
      action: 'DELETE',
      oldValues: { is_active: true, is_primary: before.is_primary },
      newValues: { is_active: false },
    });
    return view(row);
  });
}
