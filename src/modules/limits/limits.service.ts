import type { KycTierLimits } from '../../config/money-config.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { readDailyTotal } from './limits.repository.ts';
import { assertDailyOutgoingWithin } from './limits.rules.ts';

/**
 * Today's (UTC) outgoing total of a wallet plus `amount` must stay within the tier's daily limit. Call
 * it with the wallet locked, and add the amount in the same transaction (addDailyOutgoing), or two
 * requests could both pass.
 */
export async function assertDailyOutgoing(
  transaction: ScopedTransaction,
  tenantId: string,
  wallet: { id: string; assetCode: string },
  limits: KycTierLimits | undefined,
  amount: number,
): Promise<void> {
  if (!limits) return;
  const total = await readDailyTotal(transaction, tenantId, 'wallet_outgoing', wallet.id, wallet.assetCode);
  assertDailyOutgoingWithin(limits, total, amount);
}
