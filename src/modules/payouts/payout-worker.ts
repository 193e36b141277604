import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { v7 as uuidV7 } from 'uuid';
import type { MoneyConfig } from '../../config/money-config.ts';
import type { Database } from '../../db/schema.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import type { AuditContext } from '../../platform/audit/audit-trail.ts';
import { findHold, type HoldRow } from '../holds/holds.repository.ts';
import { holdCapture, holdRelease } from '../holds/holds.service.ts';
import { type Posting, postWithoutKey } from '../ledger/ledger.engine.ts';
import { addDailyOutgoing } from '../limits/limits.repository.ts';
import type { PayoutProvider, PayoutResult } from './payout-provider.ts';
import {
  type ClaimedWithdrawal,
  claimWithdrawals,
  completeWithdrawal,
  failWithdrawal,
  findPayoutAccount,
  listActiveTenantIds,
  lockOperationStatus,
} from './payouts.repository.ts';

export interface PayoutRunSummary {
  completed: number;
  failed: number;
}

type Settlement = 'completed' | 'failed' | 'skipped';

/**
 * One run of the payout worker over every active tenant: claims pending withdrawals (and ones stuck
 * in `processing` by a crashed worker), asks the provider to pay each, then settles each in its own
 * transaction — debit on `paid`, release on `failed`. Settling checks the status under a row lock, so
 * two workers racing on one withdrawal settle it once; the provider keys on the operation id, so
 * asking it twice pays once.
 */
export async function runPayoutWorker(
  db: Kysely<Database>,
  config: MoneyConfig,
  provider: PayoutProvider,
): Promise<PayoutRunSummary> {
  const summary: PayoutRunSummary = { completed: 0, failed: 0 };
  for (const tenantId of await listActiveTenantIds(db)) {
    const claimed = await withScope(db, { tenantId }, (transaction) =>
      claimWithdrawals(transaction, tenantId, config),
    );
    await Promise.all(
      claimed.map(async (withdrawal) => {
        const result = await payOut(db, tenantId, provider, withdrawal);
        const outcome = await settleWithdrawal(db, config, tenantId, withdrawal, result);
        if (outcome === 'completed') summary.completed += 1;
        if (outcome === 'failed') summary.failed += 1;
      }),
    );
  }
  return summary;
}

async function payOut(
  db: Kysely<Database>,
  tenantId: string,
  provider: PayoutProvider,
  withdrawal: ClaimedWithdrawal,
): Promise<PayoutResult> {
  const bankAccountId = withdrawal.bank_account_id;
  const account = bankAccountId
    ? await withScope(db, { tenantId }, (transaction) =>
        findPayoutAccount(transaction, tenantId, bankAccountId),
      )
    : undefined;
  if (!account) return { outcome: 'failed', errorMessage: 'The destination bank account no longer exists' };
  try {
    return await provider.payout({
      reference: withdrawal.id,
      assetCode: withdrawal.asset_code,
      amount: withdrawal.amount,
      bankCode: account.bank_code,
      accountNumber: account.account_number,
      accountName: account.account_name,
    });
  } catch (error) {
    // An unanswered payout is not a failed one: leave it processing, to be asked again once stuck.
    return { outcome: 'unanswered', errorMessage: error instanceof Error ? error.message : 'unknown' };
  }
}

async function settleWithdrawal(
  db: Kysely<Database>,
  config: MoneyConfig,
  tenantId: string,
  withdrawal: ClaimedWithdrawal,
  result: PayoutResult,
): Promise<Settlement> {
  if (result.outcome === 'unanswered') return 'skipped';
  return postWithoutKey({ db, money: config }, { tenantId }, async (transaction) => {
    const status = await lockOperationStatus(transaction, tenantId, withdrawal.id);
    if (status !== 'processing' || !withdrawal.hold_id) return { respond: () => 'skipped' };
    const hold = await findHold(transaction, tenantId, withdrawal.hold_id);
    assert.ok(hold, `withdrawal ${withdrawal.id} has no hold`);
    return result.outcome === 'paid'
      ? describePayoutCompletion(transaction, tenantId, withdrawal, hold, result)
      : describePayoutFailure(transaction, tenantId, withdrawal, hold, result.errorMessage);
  });
}

function workerAudit(tenantId: string, withdrawal: ClaimedWithdrawal): AuditContext {
  return { tenantId, userId: withdrawal.user_id, endpoint: 'job:payout-worker' };
}

/** Paid: the held amount leaves the wallet for the cash-out account, and the operation completes. */
async function describePayoutCompletion(
  transaction: ScopedTransaction,
  tenantId: string,
  withdrawal: ClaimedWithdrawal,
  hold: HoldRow,
  result: { externalReference: string; transactionHash?: string | undefined },
): Promise<Posting<Settlement>> {
  const movementId = uuidV7();
  const capture = { entryType: 'withdraw' as const, movementId, operationId: withdrawal.id };
  const ending = await holdCapture(transaction, tenantId, hold, capture);
  return {
    change: ending.change,
    afterLock: async () => {
      // Only the worker ends a withdrawal's hold, and only after it locked the processing operation.
      assert.ok(await ending.end(), `withdrawal ${withdrawal.id} hold was not active`);
    },
    audit: {
      context: workerAudit(tenantId, withdrawal),
      entry: {
        entityType: 'operation',
        entityId: withdrawal.id,
        action: 'WITHDRAW_COMPLETE',
        oldValues: { status: 'processing' },
        newValues: {
          status: 'completed',
          movement_id: movementId,
          external_reference: result.externalReference,
        },
      },
    },
    afterWrite: () => completeWithdrawal(transaction, tenantId, withdrawal.id, result),
    respond: () => 'completed',
  };
}

/** Failed: the hold is released and the day it was requested on gets its outgoing amount back. */
function describePayoutFailure(
  transaction: ScopedTransaction,
  tenantId: string,
  withdrawal: ClaimedWithdrawal,
  hold: HoldRow,
  errorMessage: string,
): Posting<Settlement> {
  const ending = holdRelease(transaction, tenantId, hold);
  return {
    change: ending.change,
    afterLock: async () => {
      assert.ok(await ending.end(), `withdrawal ${withdrawal.id} hold was not active`);
    },
    audit: {
      context: workerAudit(tenantId, withdrawal),
      entry: {
        entityType: 'operation',
        entityId: withdrawal.id,
        action: 'WITHDRAW_FAIL',
        eventStatus: 'FAILED',
        oldValues: { status: 'processing' },
        newValues: { status: 'failed', error_message: errorMessage },
      },
    },
    afterWrite: async () => {
      // The money never left: the day it was requested on gets its outgoing amount back.
      const wallet = { id: hold.wallet_id, assetCode: withdrawal.asset_code };
      await addDailyOutgoing(transaction, tenantId, wallet, -hold.amount, hold.created_at);
      await failWithdrawal(transaction, tenantId, withdrawal.id, errorMessage);
    },
    respond: () => 'failed',
  };
}
