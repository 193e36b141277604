import { type Kysely, sql } from 'kysely';
import type { MoneyConfig } from '../../config/money-config.ts';
import type { Database } from '../../db/schema.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import { findHold, lockWallet } from '../holds/holds.repository.ts';
import { captureHold, releaseHold } from '../holds/holds.service.ts';
import { withMoneyTransaction } from '../ledger/money-transaction.ts';
import { addDailyOutgoing } from '../limits/limits.repository.ts';
import type { PayoutProvider, PayoutResult } from './payout-provider.ts';

interface ClaimedWithdrawal {
  id: string;
  user_id: string;
  wallet_id: string;
  asset_code: string;
  amount: number;
  bank_account_id: string | null;
  hold_id: string | null;
}

export interface PayoutRunSummary {
  completed: number;
  failed: number;
}

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
  const tenants = await db.selectFrom('tenants').select('id').where('status', '=', 'active').execute();
  for (const { id: tenantId } of tenants) {
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

async function claimWithdrawals(
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

async function payOut(
  db: Kysely<Database>,
  tenantId: string,
  provider: PayoutProvider,
  withdrawal: ClaimedWithdrawal,
): Promise<PayoutResult> {
  const account = withdrawal.bank_account_id
    ? await withScope(db, { tenantId }, (transaction) =>
        transaction
          .selectFrom('bank_accounts')
          .select(['account_number', 'account_name', 'bank_code'])
          .where('tenant_id', '=', tenantId)
          .where('id', '=', withdrawal.bank_account_id as string)
          .executeTakeFirst(),
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
): Promise<'completed' | 'failed' | 'skipped'> {
  if (result.outcome === 'unanswered') return 'skipped';
  return withMoneyTransaction(db, { tenantId }, config.transactionAttemptsMax, async (transaction) => {
    const operation = await sql<{ status: string }>`
      select status from operations where tenant_id = ${tenantId} and id = ${withdrawal.id} for update`.execute(
      transaction,
    );
    if (operation.rows[0]?.status !== 'processing' || !withdrawal.hold_id) return 'skipped';
    const hold = await findHold(transaction, tenantId, withdrawal.hold_id);
    if (!hold) throw new Error(`withdrawal ${withdrawal.id} has no hold`);
    await lockWallet(transaction, tenantId, withdrawal.wallet_id);
    const audit: AuditContext = { tenantId, userId: withdrawal.user_id, endpoint: 'job:payout-worker' };
    if (result.outcome === 'paid') {
      const movementId = await captureHold(transaction, tenantId, hold, 'withdraw', withdrawal.id);
      if (!movementId) throw new Error(`withdrawal ${withdrawal.id} hold was not active`);
      await transaction
        .updateTable('operations')
        .set({
          status: 'completed',
          external_reference: result.externalReference,
          bitcoin_tx_hash: result.transactionHash ?? null,
          completed_at: sql<Date>`now()`,
        })
        .where('tenant_id', '=', tenantId)
        .where('id', '=', withdrawal.id)
        .execute();
      await recordAudit(transaction, audit, {
        entityType: 'operation',
        entityId: withdrawal.id,
        action: 'WITHDRAW_COMPLETE',
        oldValues: { status: 'processing' },
        newValues: {
          status: 'completed',
          movement_id: movementId,
          external_reference: result.externalReference,
        },
      });
      return 'completed';
    }
    await releaseHold(transaction, tenantId, hold);
    // The money never left: the day it was requested on gets its outgoing amount back.
    const wallet = { id: hold.wallet_id, assetCode: withdrawal.asset_code };
    await addDailyOutgoing(transaction, tenantId, wallet, -hold.amount, hold.created_at);
    await transaction
      .updateTable('operations')
      .set({ status: 'failed', error_message: result.errorMessage, completed_at: sql<Date>`now()` })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', withdrawal.id)
      .execute();
    await recordAudit(transaction, audit, {
      entityType: 'operation',
      entityId: withdrawal.id,
      action: 'WITHDRAW_FAIL',
      eventStatus: 'FAILED',
      oldValues: { status: 'processing' },
      newValues: { status: 'failed', error_message: result.errorMessage },
    });
    return 'failed';
  });
}
