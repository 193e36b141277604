import type { MoneyConfig } from '../../config/money-config.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { AppError } from '../../platform/errors.ts';
import { findMover } from '../wallets/wallets.repository.ts';

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
  const user = await findMover(transaction, tenantId, userId, assetCode);
  if (!user) throw new AppError('NOT_FOUND', 'The user does not exist.');
  if (user.maintenance === 'true' || user.maintenance === '1') throw new AppError('MAINTENANCE_MODE');
  if (user.status !== activeStatus || user.deleted) throw new AppError('ACCOUNT_BLOCKED');
  return { userId, status: user.status, kycTier: user.kyc_tier, walletId: user.wallet_id ?? undefined };
}
