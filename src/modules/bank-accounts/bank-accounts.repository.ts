import type { BankAccountType } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

const accountColumns = [
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

/** The fields a customer sets when linking (or linking again) an account. */
export interface BankAccountValues {
  account_name: string;
  bank_name: string | null;
  bank_code: string | null;
  account_type: BankAccountType | null;
  is_active: boolean;
  is_primary: boolean;
}

function ownAccounts(transaction: ScopedTransaction, tenantId: string, userId: string) {
  return transaction
    .selectFrom('bank_accounts')
    .select(accountColumns)
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId);
}

/** Every account the user ever linked, active or not, in no particular order. */
export async function listAllOwnBankAccounts(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
) {
  return ownAccounts(transaction, tenantId, userId).execute();
}

/** Primary first, then oldest first. */
export async function listOwnBankAccounts(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  options: { includeInactive: boolean; limit: number },
) {
  let query = ownAccounts(transaction, tenantId, userId);
  if (!options.includeInactive) query = query.where('is_active', '=', true);
  return query.orderBy('is_primary', 'desc').orderBy('created_at').limit(options.limit).execute();
}

export async function findOwnBankAccount(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  accountId: string,
) {
  return ownAccounts(transaction, tenantId, userId).where('id', '=', accountId).executeTakeFirst();
}

/** The user's oldest active account: the one that becomes primary when the primary is unlinked. */
export async function findOldestActiveBankAccount(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
) {
  return ownAccounts(transaction, tenantId, userId)
    .where('is_active', '=', true)
    .orderBy('created_at')
    .executeTakeFirst();
}

export async function clearPrimaryBankAccount(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
): Promise<void> {
  await transaction
    .updateTable('bank_accounts')
    .set({ is_primary: false })
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('is_primary', '=', true)
    .execute();
}

export async function insertBankAccount(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  accountNumber: string,
  values: BankAccountValues,
) {
  return transaction
    .insertInto('bank_accounts')
    .values({ tenant_id: tenantId, user_id: userId, account_number: accountNumber, ...values })
    .returning(accountColumns)
    .executeTakeFirstOrThrow();
}

/**
 * Changes one account and returns it as it now is. The caller found the account among the user's
 * own first (findOwnBankAccount), so the id alone names it.
 */
export async function updateBankAccountRow(
  transaction: ScopedTransaction,
  tenantId: string,
  accountId: string,
  changes: Partial<BankAccountValues>,
) {
  return transaction
    .updateTable('bank_accounts')
    .set(changes)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', accountId)
    .returning(accountColumns)
    .executeTakeFirstOrThrow();
}

/** Makes an account the primary one without reading it back (the next account after an unlink). */
export async function promoteBankAccount(
  transaction: ScopedTransaction,
  tenantId: string,
  accountId: string,
): Promise<void> {
  await transaction
    .updateTable('bank_accounts')
    .set({ is_primary: true })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', accountId)
    .execute();
}
