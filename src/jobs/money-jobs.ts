import type { Config } from '../config/config.ts';
import type { DatabaseHandle } from '../db/database.ts';
import { withScope } from '../db/tenant-transaction.ts';
import { expireKycRecords } from '../modules/kyc/kyc.service.ts';
import { deleteExpiredIdempotencyKeys } from '../modules/ledger/idempotency.repository.ts';
import { createSimulatedBank, type PayoutProvider } from '../modules/payouts/payout-provider.ts';
import { runPayoutWorker } from '../modules/payouts/payout-worker.ts';
import type { ScheduledJob } from '../platform/scheduler.ts';

const idempotencyCleanupIntervalMs = 3_600_000;

/**
 * The money background jobs: the withdrawal payout worker, the KYC expiry job and the removal of
 * expired idempotency keys. The simulated bank stands in for a real payout provider outside production
 * (production has none yet, so withdrawals stay pending there until one is configured).
 */
export function moneyJobs(
  database: DatabaseHandle,
  config: Config,
  provider?: PayoutProvider,
): ScheduledJob[] {
  const { money } = config;
  const payouts =
    provider ??
    (config.environment === 'production'
      ? undefined
      : createSimulatedBank({
          failurePercent: money.payoutSimulatorFailurePercent,
          delayMs: money.payoutSimulatorDelayMs,
        }));
  const jobs: ScheduledJob[] = [
    { name: 'kyc-expiry', intervalMs: money.kycExpiryIntervalMs, run: () => expireKycRecords(database.db) },
    {
      name: 'idempotency-cleanup',
      intervalMs: idempotencyCleanupIntervalMs,
      run: async () => {
        const tenants = await database.db.selectFrom('tenants').select('id').execute();
        for (const { id: tenantId } of tenants) {
          await withScope(database.db, { tenantId }, (transaction) =>
            deleteExpiredIdempotencyKeys(transaction, tenantId),
          );
        }
      },
    },
  ];
  if (payouts) {
    jobs.push({
      name: 'payout-worker',
      intervalMs: money.payoutWorkerIntervalMs,
      run: () => runPayoutWorker(database.db, money, payouts),
    });
  }
  return jobs;
}
