import { type Kysely, sql } from 'kysely';
import type { MoneyConfig } from '../../config/money-config.ts';
import type { Database } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

/** The tenants whose withdrawals the worker pays out (tenants is a global table: no scope). */
export async function listActiveTenantIds(db: Kysely<Database>): Promise<string[]> {
  const tenants = await db.selectFrom('tenants').select('id').where('status', '=', 'active').execute();
  return tenants.map((tenant) => tenant.id);
}

export interface ClaimedWithdrawal {
  id: string;
  user_id: string;
  wallet_id: string;
  asset_code: string;
  amount: number;
  bank_account_id: string | null;
  hold_id: string | null;
}

/** Pending withdrawals, and ones stuck in `processing` by a crashed worker, marked processing. */
export async function claimWithdrawals(
  transaction: ScopedTransaction,
  tenantId: string,
  config: MoneyConfig,
): Promise<ClaimedWithdrawal[]> {
  const result = await sql<ClaimedWithdrawal>`
    with picked as (
      select id from operations
      where tenant_id = ${tenantId} and operation_type = 'withdrawal'
        and (status = 'pending'
          or (status = 'processing' and updated_at < now() - make_interval(secs => ${config.payoutStuckAfterMs / 1000})))
      order by created_at limit ${config.payoutBatchSize}
      for update skip locked
    )
    update operations o set status = 'processing', attempt_count = o.attempt_count + 1
    from picked where o.tenant_id = ${tenantId} and o.id = picked.id
    returning o.id, o.user_id, o.wallet_id, o.asset_code, o.amount, o.bank_account_id, o.hold_id`.execute(
    transaction,
  );
  return result.rows;
}

export async function findPayoutAccount(
  transaction: ScopedTransaction,
  tenantId: string,
  bankAccountId: string,
): Promise<{ account_number: string; account_name: string; bank_code: string | null } | undefined> {
  return transaction
    .selectFrom('bank_accounts')
    .select(['account_number', 'account_name', 'bank_code'])
    .where('tenant_id', '=', tenantId)
    .where('id', '=', bankAccountId)
    .executeTakeFirst();
}

/** The operation's status under its row lock: two workers settling one withdrawal serialize here. */
export async function lockOperationStatus(
  transaction: ScopedTransaction,
  tenantId: string,
  operationId: string,
): Promise<string | undefined> {
  const operation = await sql<{ status: string }>`
    select status from operations where tenant_id = ${tenantId} and id = ${operationId} for update`.execute(
    transaction,
  );
  return operation.rows[0]?.status;
}

export async function completeWithdrawal(
  transaction: ScopedTransaction,
  tenantId: string,
  operationId: string,
  result: { externalReference: string; transactionHash?: string | undefined },
): Promise<void> {
  await transaction
    .updateTable('operations')
    .set({
      status: 'completed',
      external_reference: result.externalReference,
      bitcoin_tx_hash: result.transactionHash ?? null,
      completed_at: sql<Date>`now()`,
    })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', operationId)
    .execute();
}

export async function failWithdrawal(
  transaction: ScopedTransaction,
  tenantId: string,
  operationId: string,
  errorMessage: string,
): Promise<void> {
  await transaction
    .updateTable('operations')
    .set({ status: 'failed', error_message: errorMessage, completed_at: sql<Date>`now()` })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', operationId)
    .execute();
}
