import { sql } from 'kysely';
import type { SystemWalletPurpose } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

export interface SourceWallet {
  id: string;
  asset_code: string;
  kind: 'customer' | 'system';
  system_purpose: SystemWalletPurpose | null;
}

/** A wallet of the tenant by id (row-level security hides every other tenant's), or undefined. */
export async function findWallet(
  transaction: ScopedTransaction,
  tenantId: string,
  walletId: string,
): Promise<SourceWallet | undefined> {
  return transaction
    .selectFrom('wallets')
    .select(['id', 'asset_code', 'kind', 'system_purpose'])
    .where('tenant_id', '=', tenantId)
    .where('id', '=', walletId)
    .executeTakeFirst();
}

/** Whether the tenant paused its money movement (configs.maintenance_mode), as loadMover reads it. */
export async function isTenantInMaintenance(
  transaction: ScopedTransaction,
  tenantId: string,
): Promise<boolean> {
  const row = await transaction
    .selectFrom('configs')
    .select('value')
    .where('tenant_id', '=', tenantId)
    .where('key', '=', 'maintenance_mode')
    .executeTakeFirst();
  return row?.value === 'true' || row?.value === '1';
}

export interface DisbursementRecipient {
  accountNumber: string;
  userId: string;
  role: string;
  status: number;
  kycTier: number;
  deleted: boolean;
  /** Their wallet of the batch's asset, if it is open. */
  walletId: string | undefined;
}

/**
 * The customers the account numbers name in this tenant (any wallet of a customer carries their
 * account number), each with their wallet of the asset: one query for the whole batch. An account
 * number of another tenant matches nothing here, exactly as it matches nothing for a customer.
 */
export async function findRecipients(
  transaction: ScopedTransaction,
  tenantId: string,
  accountNumbers: readonly string[],
  assetCode: string,
): Promise<Map<string, DisbursementRecipient>> {
  const result = await sql<{
    account_number: string;
    id: string;
    role: string;
    status: number;
    kyc_tier: number;
    deleted: boolean;
    wallet_id: string | null;
  }>`
    select distinct on (w.account_number) w.account_number, u.id, u.role, u.status, u.kyc_tier,
           u.deleted_at is not null as deleted,
           (select a.id from wallets a where a.tenant_id = ${tenantId} and a.user_id = u.id
              and a.asset_code = ${assetCode} and a.kind = 'customer') as wallet_id
    from wallets w join users u on u.tenant_id = w.tenant_id and u.id = w.user_id
    where w.tenant_id = ${tenantId} and w.account_number = any(${[...accountNumbers]}::varchar[])
      and w.kind = 'customer'
    order by w.account_number, w.id`.execute(transaction);
  return new Map(
    result.rows.map((row) => [
      row.account_number,
      {
        accountNumber: row.account_number,
        userId: row.id,
        role: row.role,
        status: row.status,
        kycTier: row.kyc_tier,
        deleted: row.deleted,
        walletId: row.wallet_id ?? undefined,
      },
    ]),
  );
}

/**
 * Locks the wallets in id order until commit and returns their balances (exact: a system wallet's
 * may pass 2^53). Taking every lock of the batch at once, in the order the transfer engine and
 * postMovement use, keeps a batch from deadlocking with the movements that touch the same wallets.
 */
export async function lockWallets(
  transaction: ScopedTransaction,
  tenantId: string,
  walletIds: readonly string[],
): Promise<Map<string, bigint>> {
  const result = await sql<{ id: string; balance: string }>`
    select id, balance::text as balance from wallets
    where tenant_id = ${tenantId} and id = any(${[...walletIds]}::uuid[])
    order by id for update`.execute(transaction);
  return new Map(result.rows.map((row) => [row.id, BigInt(row.balance)]));
}

/**
 * Runs `work` in a savepoint: when it throws, everything it wrote is undone and the transaction goes
 * on (a non-atomic batch item that fails leaves the others). The name is reused: savepoints nest, and
 * each is released or rolled back before the next is set.
 */
export async function inSavepoint<T>(transaction: ScopedTransaction, work: () => Promise<T>): Promise<T> {
  await sql`savepoint disbursement_item`.execute(transaction);
  let result: T;
  try {
    result = await work();
  } catch (error) {
    // Should the rollback itself fail (the connection is gone), that failure is what propagates: the
    // batch must not go on as if only this item had been refused.
    await sql`rollback to savepoint disbursement_item`.execute(transaction);
    await sql`release savepoint disbursement_item`.execute(transaction);
    throw error;
  }
  await sql`release savepoint disbursement_item`.execute(transaction);
  return result;
}
