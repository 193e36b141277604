import type { KycTierLimits, MoneyConfig } from '../../config/money-config.ts';
import { AppError } from '../../platform/errors.ts';

/**
 * The KYC tier limits (seed 002): pure checks of an amount or a resulting balance against the tier's
 * limits. The daily totals they compare with live in limits.repository.ts.
 */

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

/** Today's outgoing total plus `amount` must stay within the tier's daily limit. */
export function assertDailyOutgoingWithin(
  limits: KycTierLimits | undefined,
  todayTotal: number,
  amount: number,
): void {
  if (limits && todayTotal + amount > limits.dailyOutgoingMinor) {
    throw new AppError('KYC_LIMIT_EXCEEDED', undefined, [
      {
        field: 'body.amount',
        reason: `would exceed the daily outgoing limit of ${limits.dailyOutgoingMinor}`,
      },
    ]);
  }
}
