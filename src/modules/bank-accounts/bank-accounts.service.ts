import { type Kysely, sql } from 'kysely';
import type { BankAccountType, Database } from '../../db/schema.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';

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

const columns = [
  'id',
  'account_number',
  'account_name',
  'bank_name',
  'bank_code',
  'account_type',
  'is_active',
  'is_primary',
  'created_at',
  'updated_at',
] as const;

type Row = {
  id: string;
  account_number: string;
  account_name: string;
  bank_name: string | null;
  bank_code: string | null;
  account_type: BankAccountType | null;
  is_active: boolean;
  is_primary: boolean;
  created_at: Date;
  updated_at: Date;
};

function view(row: Row): BankAccountView {
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
    await sql`select id from users where tenant_id = ${principal.tenantId} and id = ${principal.userId} for update`.execute(
      transaction,
    );
    return work(transaction);
  });
}

function ownAccounts(transaction: ScopedTransaction, principal: Principal) {
  return transaction
    .selectFrom('bank_accounts')
    .select(columns)
    .where('tenant_id', '=', principal.tenantId)
    .where('user_id', '=', principal.userId);
}

async function findOwn(transaction: ScopedTransaction, principal: Principal, id: string): Promise<Row> {
  const row = await ownAccounts(transaction, principal).where('id', '=', id).executeTakeFirst();
  if (!row) throw new AppError('NOT_FOUND', 'The bank account does not exist.');
  return row;
}

async function clearPrimary(transaction: ScopedTransaction, principal: Principal): Promise<void> {
  await transaction
    .updateTable('bank_accounts')
    .set({ is_primary: false })
    .where('tenant_id', '=', principal.tenantId)
    .where('user_id', '=', principal.userId)
    .where('is_primary', '=', true)
    .execute();
}

export async function listBankAccounts(
  db: Kysely<Database>,
  principal: Principal,
  includeInactive: boolean,
): Promise<BankAccountView[]> {
  return withScope(db, { tenantId: principal.tenantId, userId: principal.userId }, async (transaction) => {
    let query = ownAccounts(transaction, principal);
    if (!includeInactive) query = query.where('is_active', '=', true);
    const rows = await query
      .orderBy('is_primary', 'desc')
      .orderBy('created_at')
      .limit(bankAccountsPerUserMax)
      .execute();
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
    const existing = await ownAccounts(transaction, principal).execute();
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
    if (primary) await clearPrimary(transaction, principal);
    const values = {
      account_name: input.account_name,
      bank_name: input.bank_name ?? null,
      bank_code: input.bank_code ?? null,
      account_type: input.account_type ?? null,
      is_active: true,
      is_primary: primary,
    };
    // A soft-deleted account linked again comes back to life: (user, account number) stays unique.
    const row = same
      ? await transaction
          .updateTable('bank_accounts')
          .set(values)
          .where('tenant_id', '=', principal.tenantId)
          .where('id', '=', same.id)
          .returning(columns)
          .executeTakeFirstOrThrow()
      : await transaction
          .insertInto('bank_accounts')
          .values({
            tenant_id: principal.tenantId,
            user_id: principal.userId,
            account_number: input.account_number,
            ...values,
          })
          .returning(columns)
          .executeTakeFirstOrThrow();
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
    const before = await findOwn(transaction, principal, id);
    if (!before.is_active) throw new AppError('BANK_ACCOUNT_INACTIVE');
    const row = await transaction
      .updateTable('bank_accounts')
      .set(changes)
      .where('tenant_id', '=', principal.tenantId)
      .where('id', '=', id)
      .returning(columns)
      .executeTakeFirstOrThrow();
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
    const before = await findOwn(transaction, principal, id);
    if (!before.is_active) throw new AppError('BANK_ACCOUNT_INACTIVE');
    await clearPrimary(transaction, principal);
    const row = await transaction
      .updateTable('bank_accounts')
      .set({ is_primary: true })
      .where('tenant_id', '=', principal.tenantId)
      .where('id', '=', id)
      .returning(columns)
      .executeTakeFirstOrThrow();
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
    const before = await findOwn(transaction, principal, id);
    if (!before.is_active) throw new AppError('BANK_ACCOUNT_INACTIVE');
    const row = await transaction
      .updateTable('bank_accounts')
      .set({ is_active: false, is_primary: false })
      .where('tenant_id', '=', principal.tenantId)
      .where('id', '=', id)
      .returning(columns)
      .executeTakeFirstOrThrow();
    if (before.is_primary) {
      const next = await ownAccounts(transaction, principal)
        .where('is_active', '=', true)
        .orderBy('created_at')
        .executeTakeFirst();
      if (next) {
        await transaction
          .updateTable('bank_accounts')
          .set({ is_primary: true })
          .where('tenant_id', '=', principal.tenantId)
          .where('id', '=', next.id)
          .execute();
      }
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
