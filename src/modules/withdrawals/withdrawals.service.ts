import { v7 as uuidV7 } from 'uuid';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { placeHold } from '../holds/holds.service.ts';
import { type MoneyResponse, runMoneyOperation } from '../idempotency/idempotency.service.ts';
import type { MoneyServices } from '../ledger/money-services.ts';
import { loadMover } from '../ledger/mover.ts';
import { addDailyOutgoing } from '../limits/limits.repository.ts';
import { assertSingleAmount, limitsFor } from '../limits/limits.rules.ts';
import { assertDailyOutgoing } from '../limits/limits.service.ts';
import { assertAmount, requireAsset } from '../wallets/assets.service.ts';

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
  return runMoneyOperation(services, principal, idempotencyKey, withdrawEndpoint, input, (transaction) =>
    createWithdrawal(services, transaction, principal, audit, input),
  );
}

async function createWithdrawal(
  services: MoneyServices,
  transaction: ScopedTransaction,
  principal: Principal,
  audit: AuditContext,
  input: WithdrawInput,
): Promise<MoneyResponse> {
  const tenantId = principal.tenantId;
  const asset = await requireAsset(transaction, input.asset ?? 'IDR');
  assertAmount(input.amount, asset);
  const mover = await loadMover(transaction, tenantId, principal.userId, services.money, asset.code);
  const limits = limitsFor(services.money, mover.kycTier, asset.code);
  assertSingleAmount(limits, input.amount);
  const bankAccount = await transaction
    .selectFrom('bank_accounts')
    .select(['id', 'is_active'])
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', mover.userId)
    .where('id', '=', input.bank_account_id)
    .executeTakeFirst();
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
  const walletId = mover.walletId;
  if (!walletId) throw new AppError('INSUFFICIENT_FUNDS');
  const operationId = uuidV7();
  // placeHold locks the wallet first, so the daily total read below cannot race another withdrawal.
  const hold = await placeHold(
    transaction,
    tenantId,
    walletId,
    input.amount,
    'withdrawal',
    mover.userId,
    operationId,
  );
  const wallet = { id: walletId, assetCode: asset.code };
  await assertDailyOutgoing(transaction, tenantId, wallet, limits, input.amount);
  await addDailyOutgoing(transaction, tenantId, wallet, input.amount);
  const operation = await transaction
    .insertInto('operations')
    .values({
      tenant_id: tenantId,
      id: operationId,
      user_id: mover.userId,
      wallet_id: walletId,
      asset_code: asset.code,
      operation_type: 'withdrawal',
      status: 'pending',
      amount: input.amount,
      bank_account_id: bankAccount.id,
      hold_id: hold.id,
      metadata: JSON.stringify({ requested_by: principal.userId }),
    })
    .returning(['id', 'created_at'])
    .executeTakeFirstOrThrow();
  await recordAudit(transaction, audit, {
    entityType: 'operation',
    entityId: operationId,
    action: 'WITHDRAW_REQUEST',
    newValues: { asset: asset.code, amount: input.amount, bank_account_id: bankAccount.id, hold_id: hold.id },
  });
  return {
    status: 202,
    body: {
      operation_id: operation.id,
      type: 'withdrawal',
      status: 'pending',
      asset: asset.code,
      amount: input.amount,
      bank_account_id: bankAccount.id,
      hold_id: hold.id,
      created_at: operation.created_at.toISOString(),
    },
  };
}
