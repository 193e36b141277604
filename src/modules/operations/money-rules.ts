import { type Kysely, sql } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { AppError } from '../../platform/errors.ts';
import { type AssetRow, findAsset } from '../wallets/wallets.repository.ts';
import type { KycTierLimits, MoneyConfig } from './money-config.ts';

/** The customer whose money moves, read inside the money transaction (never from a cached token). */
export interface Mover {
  userId: string;
  status: number;
  kycTier: number;
  /** Their wallet of the requested asset, if it is open. */
  walletId: string | undefined;
}

/** Users with status 2 (blocked) or 0 (inactive), or deleted, cannot move money (seed 000). */
const activeStatus = 1;

/**
 * Loads the customer, their wallet of the asset and the tenant's `maintenance_mode` in one query, and
 * stops money movement when the environment or the tenant is in maintenance or the user is blocked.
 */
export async function loadMover(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  config: MoneyConfig,
  assetCode: string,
): Promise<Mover> {
  if (config.maintenanceMode) throw new AppError('MAINTENANCE_MODE');
  const row = await sql<{
    status: number;
    kyc_tier: number;
    deleted: boolean;
    maintenance: string | null;
    wallet_id: string | null;
  }>`
    select u.status, u.kyc_tier, u.deleted_at is not null as deleted,
           (select value from configs where tenant_id = ${tenantId} and key = 'maintenance_mode') as maintenance,
           (select id from wallets where tenant_id = ${tenantId} and user_id = ${userId} and asset_code = ${assetCode}
              and kind = 'customer') as wallet_id
    from users u where u.tenant_id = ${tenantId} and u.id = ${userId}`.execute(transaction);
  const user = row.rows[0];
  if (!user) throw new AppError('NOT_FOUND', 'The user does not exist.');
  if (user.maintenance === 'true' || user.maintenance === '1') throw new AppError('MAINTENANCE_MODE');
  if (user.status !== activeStatus || user.deleted) throw new AppError('ACCOUNT_BLOCKED');
  return { userId, status: user.status, kycTier: user.kyc_tier, walletId: user.wallet_id ?? undefined };
}

/**
 * Assets change rarely (a migration or an operator), and every money request needs its asset: a
 * short cache saves a round trip per request; a changed maximum applies within the TTL.
 */
const assetCacheTtlMs = 60_000;
const assetCache = new Map<string, { asset: AssetRow | undefined; expiresAtMs: number }>();
const assetCacheEntriesMax = 100;

export async function requireAsset(
  db: Kysely<Database>,
  code: string,
  field = 'body.asset',
): Promise<AssetRow> {
  let cached = assetCache.get(code);
  if (!cached || cached.expiresAtMs < Date.now()) {
    if (assetCache.size >= assetCacheEntriesMax) assetCache.clear();
    cached = { asset: await findAsset(db, code), expiresAtMs: Date.now() + assetCacheTtlMs };
    assetCache.set(code, cached);
  }
  const asset = cached.asset;
  if (!asset?.is_active) {
    throw new AppError('VALIDATION_FAILED', undefined, [{ field, reason: 'is not a supported asset' }]);
  }
  return asset;
}

/**
 * The schema already bounds amounts to positive integers ≤ 2^53−1; this adds the asset's own maximum.
 * Re-asserting the first bounds here keeps a service called without the HTTP layer just as safe.
 */
export function assertAmount(amount: number, asset: AssetRow, field = 'body.amount'): void {
  if (!Number.isSafeInteger(amount) || amount <= 0) {
    throw new AppError('VALIDATION_FAILED', undefined, [
      { field, reason: 'must be a positive whole number of minor units, at most 9007199254740991' },
    ]);
  }
  if (amount > asset.maximum_amount) {
    throw new AppError('VALIDATION_FAILED', undefined, [
      { field, reason: `must not exceed the ${asset.code} maximum of ${asset.maximum_amount} minor units` },
    ]);
  }
}

/** The tier's limits when the asset is the limited one (IDR by default); other assets are unlimited. */
export function limitsFor(config: MoneyConfig, tier: number, assetCode: string): KycTierLimits | undefined {
  if (assetCode !== config.kycLimitedAsset) return undefined;
  return config.kycTierLimits[tier as 0 | 1 | 2] ?? config.kycTierLimits[0];
}

export function assertSingleAmount(limits: KycTierLimits | undefined, amount: number): void {
  if (limits && amount > limits.singleTransferMaximumMinor) {
    throw new AppError('KYC_LIMIT_EXCEEDED', undefined, [
      {
        field: 'body.amount',
        reason: `exceeds the single transaction maximum of ${limits.singleTransferMaximumMinor}`,
      },
    ]);
  }
}

export function assertBalanceWithinLimit(
  limits: KycTierLimits | undefined,
  balanceAfter: number,
  whose: 'your' | 'the recipient',
): void {
  if (limits && balanceAfter > limits.maximumBalanceMinor) {
    throw new AppError('KYC_LIMIT_EXCEEDED', undefined, [
      {
        field: 'body.amount',
        reason: `would take ${whose} balance above the tier maximum of ${limits.maximumBalanceMinor}`,
      },
    ]);
  }
}

/**
 * Today's (UTC) outgoing total of a wallet (daily_totals, migration 0010: transfers, and withdrawals
 * counted when requested) plus `amount` must stay within the tier's daily limit. Call it with the
 * wallet locked, and add the amount in the same transaction, or two requests could both pass.
 */
export async function assertDailyOutgoing(
  transaction: ScopedTransaction,
  tenantId: string,
  wallet: { id: string; assetCode: string },
  limits: KycTierLimits | undefined,
  amount: number,
): Promise<void> {
  if (!limits) return;
  const total = await dailyTotal(transaction, tenantId, 'wallet_outgoing', wallet.id, wallet.assetCode);
  if (total + amount > limits.dailyOutgoingMinor) {
    throw new AppError('KYC_LIMIT_EXCEEDED', undefined, [
      {
        field: 'body.amount',
        reason: `would exceed the daily outgoing limit of ${limits.dailyOutgoingMinor}`,
      },
    ]);
  }
}

export type DailyTotalKind = 'wallet_outgoing' | 'staff_credit';

async function dailyTotal(
  transaction: ScopedTransaction,
  tenantId: string,
  kind: DailyTotalKind,
  subject: string,
  assetCode: string,
): Promise<number> {
  const row = await transaction
    .selectFrom('daily_totals')
    .select('amount')
    .where('tenant_id', '=', tenantId)
    .where('kind', '=', kind)
    .where('subject', '=', subject)
    .where('asset_code', '=', assetCode)
    .where('day', '=', sql<Date>`(now() at time zone 'UTC')::date`)
    .executeTakeFirst();
  return row?.amount ?? 0;
}

/**
 * Adds to (or, negative, gives back to) a wallet's outgoing total of the UTC day `at` falls on (today
 * by default). A give-back never takes the total below zero.
 */
export async function addDailyOutgoing(
  transaction: ScopedTransaction,
  tenantId: string,
  wallet: { id: string; assetCode: string },
  amount: number,
  at?: Date,
): Promise<void> {
  const day = at
    ? sql`(${at.toISOString()}::timestamptz at time zone 'UTC')::date`
    : sql`(now() at time zone 'UTC')::date`;
  await sql`
    insert into daily_totals as d (tenant_id, kind, subject, asset_code, day, amount)
    values (${tenantId}, 'wallet_outgoing', ${wallet.id}, ${wallet.assetCode}, ${day}, greatest(${amount}::bigint, 0))
    on conflict (tenant_id, kind, subject, asset_code, day)
      do update set amount = greatest(d.amount + ${amount}::bigint, 0)`.execute(transaction);
}

/**
 * Adds `amount` to what the staff member credited today without approval, if the day's total stays
 * within `threshold`: one conditional upsert, so two concurrent top-ups by one staff member cannot both
 * pass (the row lock decides). Returns false when the amount needs a second staff member.
 */
export async function claimStaffCredit(
  transaction: ScopedTransaction,
  tenantId: string,
  staffId: string,
  assetCode: string,
  amount: number,
  threshold: number,
): Promise<boolean> {
  if (amount > threshold) return false;
  const claimed = await sql<{ amount: number }>`
    insert into daily_totals as d (tenant_id, kind, subject, asset_code, day, amount)
    values (${tenantId}, 'staff_credit', ${staffId}, ${assetCode}, (now() at time zone 'UTC')::date, ${amount})
    on conflict (tenant_id, kind, subject, asset_code, day)
      do update set amount = d.amount + excluded.amount where d.amount + excluded.amount <= ${threshold}
    returning d.amount`.execute(transaction);
  return claimed.rows.length > 0;
}

/** What a money service needs from the application. */
export interface MoneyServices {
  db: Kysely<Database>;
  money: MoneyConfig;
  /** The embedded engine has one connection (the transfer engine keeps one group in flight there). */
  databaseEngine?: 'pglite' | 'postgres' | undefined;
  /** The idle timeout the transfer statement applies when it checks a session (the guard's). */
  sessionIdleTimeoutSeconds?: number | undefined;
}

/** An Idempotency-Key header value: 1-255 visible ASCII characters, or absent. */
export function idempotencyKeyFrom(header: unknown): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(header)) {
    throw new AppError('VALIDATION_FAILED', undefined, [
      { field: 'headers.idempotency-key', reason: 'must be 1-255 visible ASCII characters' },
    ]);
  }
  return header;
}
