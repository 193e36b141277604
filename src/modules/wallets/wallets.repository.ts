import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { DatabaseHandle } from '../../db/database.ts';
import type { Database, SystemWalletPurpose } from '../../db/schema.ts';
import { readInScope, type Scope, type ScopedTransaction } from '../../db/tenant-transaction.ts';

export interface AssetRow {
  code: string;
  scale: number;
  maximum_amount: number;
  is_active: boolean;
}

export async function findAsset(db: Kysely<Database>, code: string): Promise<AssetRow | undefined> {
  return db
    .selectFrom('assets')
    .select(['code', 'scale', 'maximum_amount', 'is_active'])
    .where('code', '=', code)
    .executeTakeFirst();
}

export async function findCustomerWalletId(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  assetCode: string,
): Promise<string | undefined> {
  const row = await transaction
    .selectFrom('wallets')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('asset_code', '=', assetCode)
    .where('kind', '=', 'customer')
    .executeTakeFirst();
  return row?.id;
}

/**
 * The customer's wallet of an asset, opened on first use (IDR is opened at registration). A new wallet
 * carries the account number of the user's other wallets, so one account number reaches every asset.
 */
export async function ensureCustomerWallet(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  assetCode: string,
): Promise<string> {
  const existing = await findCustomerWalletId(transaction, tenantId, userId, assetCode);
  if (existing) return existing;
  const numbered = await transaction
    .selectFrom('wallets')
    .select('account_number')
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('account_number', 'is not', null)
    .executeTakeFirst();
  const accountNumber = numbered?.account_number ?? (await unusedAccountNumber(transaction, tenantId));
  // A concurrent first credit may open the same wallet: the partial unique index keeps one.
  await transaction
    .insertInto('wallets')
    .values({
      tenant_id: tenantId,
      user_id: userId,
      asset_code: assetCode,
      kind: 'customer',
      account_number: accountNumber,
    })
    .onConflict((conflict) =>
      conflict.columns(['tenant_id', 'user_id', 'asset_code']).where('kind', '=', 'customer').doNothing(),
    )
    .execute();
  const created = await findCustomerWalletId(transaction, tenantId, userId, assetCode);
  assert.ok(created, 'customer wallet missing right after it was opened');
  return created;
}

async function unusedAccountNumber(transaction: ScopedTransaction, tenantId: string): Promise<string> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const candidate = String(randomInt(1_000_000_000, 9_999_999_999));
    const taken = await transaction
      .selectFrom('wallets')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('account_number', '=', candidate)
      .executeTakeFirst();
    if (!taken) return candidate;
  }
  throw new Error('no unused account number found in 20 attempts');
}

/** The tenant's system wallet of an asset and purpose (cash in, cash out, fees), created on first use. */
export async function ensureSystemWallet(
  transaction: ScopedTransaction,
  tenantId: string,
  assetCode: string,
  purpose: SystemWalletPurpose,
): Promise<string> {
  const find = () =>
    transaction
      .selectFrom('wallets')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('asset_code', '=', assetCode)
      .where('kind', '=', 'system')
      .where('system_purpose', '=', purpose)
      .executeTakeFirst();
  const existing = await find();
  if (existing) return existing.id;
  await transaction
    .insertInto('wallets')
    .values({ tenant_id: tenantId, asset_code: assetCode, kind: 'system', system_purpose: purpose })
    .onConflict((conflict) =>
      conflict
        .columns(['tenant_id', 'asset_code', 'system_purpose'])
        .where('kind', '=', 'system')
        .doNothing(),
    )
    .execute();
  const created = await find();
  assert.ok(created, 'system wallet missing right after it was created');
  return created.id;
}

export interface Recipient {
  userId: string;
  status: number;
  kycTier: number;
  deleted: boolean;
  /** Their wallet of the requested asset, if it is open. */
  walletId: string | undefined;
}

/** The customer an account number names (any of their wallets carries it), with their wallet of the asset. */
export async function findRecipientByAccountNumber(
  transaction: ScopedTransaction,
  tenantId: string,
  accountNumber: string,
  assetCode: string,
): Promise<Recipient | undefined> {
  const result = await sql<{
    id: string;
    status: number;
    kyc_tier: number;
    deleted: boolean;
    wallet_id: string | null;
  }>`
    select u.id, u.status, u.kyc_tier, u.deleted_at is not null as deleted,
           (select a.id from wallets a where a.tenant_id = ${tenantId} and a.user_id = u.id and a.asset_code = ${assetCode}
              and a.kind = 'customer') as wallet_id
    from wallets w join users u on u.tenant_id = w.tenant_id and u.id = w.user_id
    where w.tenant_id = ${tenantId} and w.account_number = ${accountNumber} and w.kind = 'customer'
    limit 1`.execute(transaction);
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    userId: row.id,
    status: row.status,
    kycTier: row.kyc_tier,
    deleted: row.deleted,
    walletId: row.wallet_id ?? undefined,
  };
}

export interface WalletBalance {
  asset: string;
  account_number: string | null;
  balance: number;
  locked: number;
  available: number;
}

/** The customer's wallets, in one round trip (readInScope) scoped to the customer as user. */
export async function listBalances(database: DatabaseHandle, scope: Scope): Promise<WalletBalance[]> {
  const { tenantId, userId } = scope;
  assert.ok(userId !== undefined, 'balances are read as their owner');
  const query = database.db
    .selectFrom('wallets')
    .select(['asset_code', 'account_number', 'balance', 'locked'])
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('kind', '=', 'customer')
    .orderBy('asset_code')
    .compile();
  const rows = await readInScope(database, scope, query);
  return rows.map((row) => ({
    asset: row.asset_code,
    account_number: row.account_number,
    balance: row.balance,
    locked: row.locked,
    available: row.balance - row.locked,
  }));
}

export interface MoverRow {
  status: number;
  kyc_tier: number;
  deleted: boolean;
  /** The tenant's configs.maintenance_mode, if set. */
  maintenance: string | null;
  wallet_id: string | null;
}

/** A user, their customer wallet of the asset and the tenant's maintenance setting, in one query. */
export async function findMover(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  assetCode: string,
): Promise<MoverRow | undefined> {
  const result = await sql<MoverRow>`
    select u.status, u.kyc_tier, u.deleted_at is not null as deleted,
           (select value from configs where tenant_id = ${tenantId} and key = 'maintenance_mode') as maintenance,
           (select id from wallets where tenant_id = ${tenantId} and user_id = ${userId} and asset_code = ${assetCode}
              and kind = 'customer') as wallet_id
    from users u where u.tenant_id = ${tenantId} and u.id = ${userId}`.execute(transaction);
  return result.rows[0];
}

export async function findWalletAssetCode(
  transaction: ScopedTransaction,
  tenantId: string,
  walletId: string,
): Promise<string> {
  const row = await transaction
    .selectFrom('wallets')
    .select('asset_code')
    .where('tenant_id', '=', tenantId)
    .where('id', '=', walletId)
    .executeTakeFirstOrThrow();
  return row.asset_code;
}
