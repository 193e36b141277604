import assert from 'node:assert/strict';
import { v7 as uuidV7 } from 'uuid';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import type { AuditContext } from '../../platform/audit/audit-trail.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { insertHold } from '../holds/holds.repository.ts';
import type { MoneyResponse } from '../ledger/idempotency.ts';
import { type Posting, post } from '../ledger/ledger.engine.ts';
import type { MoneyServices } from '../ledger/money-services.ts';
import { loadMover } from '../ledger/mover.ts';
import { addDailyOutgoing } from '../limits/limits.repository.ts';
import { assertSingleAmount, limitsFor } from '../limits/limits.rules.ts';
import { assertDailyOutgoing } from '../limits/limits.service.ts';
import { assertAmount, requireAsset } from '../wallets/assets.service.ts';
import {
  findBankAccount,
  findOwnWithdrawal,
  insertWithdrawal,
  type WithdrawalValues,
} from './withdrawals.repository.ts';

export interface WithdrawInput {
  amount: number;
  asset?: string | undefined;
  bank_account_id: string;
}

export const withdrawEndpoint = 'POST /v1/transactions/withdraw';

/**
 * Requests a withdrawal (seed 002 lifecycle): the amount is held at once, and the operation waits as
 * `pending` for the payout worker, which debits it on success or releases it on failure.
 */
export async function requestWithdrawal(
  services: MoneyServices,
  principal: Principal,
  audit: AuditContext,
  idempotencyKey: string | undefined,
  input: WithdrawInput,
): Promise<MoneyResponse> {
  return post(
    services,
    { tenantId: principal.tenantId },
    {
      callerId: principal.userId,
      key: idempotencyKey,
      endpoint: withdrawEndpoint,
      body: input,
      describe: (transaction) => describeWithdrawal(services, transaction, principal, audit, input),
    },
  );
}

async function requireActiveBankAccount(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  bankAccountId: string,
): Promise<{ id: string }> {
  const bankAccount = await findBankAccount(transaction, tenantId, userId, bankAccountId);
  if (!bankAccount) {
    throw new AppError('NOT_FOUND', 'The bank account does not exist.', [
      { field: 'body.bank_account_id', reason: 'is not one of your bank accounts' },
    ]);
  }
  if (!bankAccount.is_active) {
    throw new AppError('BANK_ACCOUNT_INACTIVE', undefined, [
      { field: 'body.bank_account_id', reason: 'is deleted' },
    ]);
  }
  return bankAccount;
}

async function describeWithdrawal(
  services: MoneyServices,
  transaction: ScopedTransaction,
  principal: Principal,
  audit: AuditContext,
  input: WithdrawInput,
): Promise<Posting<MoneyResponse>> {
  const tenantId = principal.tenantId;
  const asset = await requireAsset(transaction, input.asset ?? 'IDR');
  assertAmount(input.amount, asset);
  const mover = await loadMover(transaction, tenantId, principal.userId, services.money, asset.code);
  const limits = limitsFor(services.money, mover.kycTier, asset.code);
  assertSingleAmount(limits, input.amount);
  const bankAccount = await requireActiveBankAccount(
    transaction,
    tenantId,
    mover.userId,
    input.bank_account_id,
  );
  const walletId = mover.walletId;
  if (!walletId) throw new AppError('INSUFFICIENT_FUNDS');
  const withdrawal: WithdrawalValues = {
    tenantId,
    id: uuidV7(),
    userId: mover.userId,
    walletId,
    assetCode: asset.code,
    amount: input.amount,
    bankAccountId: bankAccount.id,
    holdId: uuidV7(),
    requestedBy: principal.userId,
  };
  const wallet = { id: walletId, assetCode: asset.code };
  let createdAt: Date | undefined;
  return {
    change: { kind: 'lock', walletId, amount: input.amount },
    // Under the wallet lock, so the daily total read cannot race another withdrawal of the wallet.
    beforeWrite: () => assertDailyOutgoing(transaction, tenantId, wallet, limits, input.amount),
    audit: {
      context: audit,
      entry: {
        entityType: 'operation',
        entityId: withdrawal.id,
        action: 'WITHDRAW_REQUEST',
        newValues: {
          asset: asset.code,
          amount: input.amount,
          bank_account_id: bankAccount.id,
          hold_id: withdrawal.holdId,
        },
      },
    },
    afterWrite: async () => {
      createdAt = await writeWithdrawal(transaction, withdrawal);
    },
    respond: () => withdrawalResponse(withdrawal, createdAt),
  };
}

/** The hold, the day's outgoing total and the pending operation, after the wallet's locked amount grew. */
async function writeWithdrawal(transaction: ScopedTransaction, withdrawal: WithdrawalValues): Promise<Date> {
  await insertHold(transaction, withdrawal.tenantId, {
    id: withdrawal.holdId,
    walletId: withdrawal.walletId,
    amount: withdrawal.amount,
    reason: 'withdrawal',
    operationId: withdrawal.id,
    createdBy: withdrawal.userId,
  });
  const wallet = { id: withdrawal.walletId, assetCode: withdrawal.assetCode };
  await addDailyOutgoing(transaction, withdrawal.tenantId, wallet, withdrawal.amount);
  const operation = await insertWithdrawal(transaction, withdrawal);
  return operation.created_at;
}

function withdrawalResponse(withdrawal: WithdrawalValues, createdAt: Date | undefined): MoneyResponse {
  assert.ok(createdAt, 'the operation row is written before the response');
  return {
    status: 202,
    body: {
      operation_id: withdrawal.id,
      type: 'withdrawal',
      status: 'pending',
      asset: withdrawal.assetCode,
      amount: withdrawal.amount,
      bank_account_id: withdrawal.bankAccountId,
      hold_id: withdrawal.holdId,
      created_at: createdAt.toISOString(),
    },
  };
}

/** A withdrawal as its owner polls it; an operation that is not one of theirs is NOT_FOUND. */
export interface WithdrawalView {
  operation_id: string;
  type: 'withdrawal';
  status: 'pending' | 'processing' | 'completed' | 'failed';
  asset: string;
  amount: number;
  bank_account_id: string;
  hold_id: string;
  external_reference: string | null;
  error_message: string | null;
  created_at: string;
  completed_at: string | null;
}

export async function readOwnWithdrawal(
  services: MoneyServices,
  principal: Principal,
  operationId: string,
): Promise<WithdrawalView> {
  const { tenantId, userId } = principal;
  const operation = await withScope(services.db, { tenantId, userId }, (transaction) =>
    findOwnWithdrawal(transaction, tenantId, userId, operationId),
  );
  if (!operation?.bank_account_id || !operation.hold_id) throw new AppError('NOT_FOUND');
  return {
    operation_id: operation.id,
    type: 'withdrawal',
    status: operation.status,
    asset: operation.asset_code,
    amount: operation.amount,
    bank_account_id: operation.bank_account_id,
    hold_id: operation.hold_id,
    external_reference: operation.external_reference,
    error_message: operation.error_message,
    created_at: operation.created_at.toISOString(),
    completed_at: operation.completed_at?.toISOString() ?? null,
  };
}
