import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { AppError } from '../../platform/errors.ts';
import { type AssetRow, findAsset } from './wallets.repository.ts';

/**
 * Assets change rarely (a migration or an operator), and every money request needs its asset: a
 * short cache saves a round trip per request; a changed maximum applies within the TTL.
 */
const assetCacheTtlMs = 60_000;
const assetCache = new Map<string, { asset: AssetRow | undefined; expiresAtMs: number }>();
const assetCacheEntriesMax = 100;

/** The active asset of `code`, or a 400 naming `field`. */
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
