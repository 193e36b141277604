import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

export async function findBankAccount(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  bankAccountId: string,
): Promise<{ id: string; is_active: boolean } | undefined> {
  return transaction
    .selectFrom('bank_accounts')
    .select(['id', 'is_active'])
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('id', '=', bankAccountId)
    .executeTakeFirst();
}

export interface WithdrawalValues {
  tenantId: string;
  id: string;
  userId: string;
  walletId: string;
  assetCode: string;
  amount: number;
  bankAccountId: string;
  holdId: string;
  requestedBy: string;
}

/** The pending withdrawal operation the payout worker will take up. */
export async function insertWithdrawal(
  transaction: ScopedTransaction,
  values: WithdrawalValues,
): Promise<{ id: string; created_at: Date }> {
  return transaction
    .insertInto('operations')
    .values({
      tenant_id: values.tenantId,
      id: values.id,
      user_id: values.userId,
      wallet_id: values.walletId,
      asset_code: values.assetCode,
      operation_type: 'withdrawal',
      status: 'pending',
      amount: values.amount,
      bank_account_id: values.bankAccountId,
      hold_id: values.holdId,
      metadata: JSON.stringify({ requested_by: values.requestedBy }),
    })
    .returning(['id', 'created_at'])
    .executeTakeFirstOrThrow();
}

/** One of the user's own withdrawal operations, or undefined. */
export async function findOwnWithdrawal(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  operationId: string,
) {
  return transaction
    .selectFrom('operations')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('id', '=', operationId)
    .where('operation_type', '=', 'withdrawal')
    .executeTakeFirst();
}
