import { v7 as uuidV7 } from 'uuid';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { type MoneyResponse, runMoneyOperation } from '../idempotency/idempotency.service.ts';
import { customerBalances, postMovement } from '../ledger/ledger-posting.ts';
import {
  assertAmount,
  assertBalanceWithinLimit,
  assertDailyOutgoing,
  assertSingleAmount,
  limitsFor,
  loadMover,
  type MoneyServices,
  requireAsset,
} from '../operations/money-rules.ts';
import { ensureCustomerWallet, findRecipientByAccountNumber } from '../wallets/wallets.repository.ts';

export interface TransferInput {
  to_account_number: string;
  amount: number;
  asset?: string | undefined;
  description?: string | undefined;
}

export const transferEndpoint = 'POST /v1/transactions/transfer';

/**
 * Moves money from the caller to the owner of `to_account_number`: a transfer_out entry for the sender
 * and a transfer_in entry for the receiver in one movement, one transaction, at most once per key.
 */
export async function transfer(
  services: MoneyServices,
  principal: Principal,
  audit: AuditContext,
  idempotencyKey: string | undefined,
  input: TransferInput,
): Promise<MoneyResponse> {
  return runMoneyOperation(services, principal, idempotencyKey, transferEndpoint, input, (transaction) =>
    postTransfer(services, transaction, principal, audit, input),
  );
}

async function postTransfer(
  services: MoneyServices,
  transaction: ScopedTransaction,
  principal: Principal,
  audit: AuditContext,
  input: TransferInput,
): Promise<MoneyResponse> {
  const tenantId = principal.tenantId;
  const asset = await requireAsset(transaction, input.asset ?? 'IDR');
  assertAmount(input.amount, asset);
  const mover = await loadMover(transaction, tenantId, principal.userId, services.money, asset.code);
  const senderLimits = limitsFor(services.money, mover.kycTier, asset.code);
  assertSingleAmount(senderLimits, input.amount);
  const recipient = await findRecipientByAccountNumber(
    transaction,
    tenantId,
    input.to_account_number,
    asset.code,
  );
  if (!recipient) {
    throw new AppError('RECIPIENT_NOT_FOUND', undefined, [
      { field: 'body.to_account_number', reason: 'matches no account' },
    ]);
  }
  if (recipient.userId === mover.userId) {
    throw new AppError('SELF_TRANSFER', undefined, [
      { field: 'body.to_account_number', reason: 'is your own account' },
    ]);
  }
  if (recipient.status !== 1 || recipient.deleted) {
    throw new AppError('RECIPIENT_BLOCKED', undefined, [
      { field: 'body.to_account_number', reason: 'cannot receive money' },
    ]);
  }
  const senderWalletId = mover.walletId;
  if (!senderWalletId) throw new AppError('INSUFFICIENT_FUNDS');
  const receiverWalletId =
    recipient.walletId ?? (await ensureCustomerWallet(transaction, tenantId, recipient.userId, asset.code));
  const receiverLimits = limitsFor(services.money, recipient.kycTier, asset.code);
  const movementId = uuidV7();
  const description = input.description ?? null;
  await recordAudit(transaction, audit, {
    entityType: 'transaction',
    entityId: movementId,
    action: 'TRANSFER',
    newValues: {
      asset: asset.code,
      amount: input.amount,
      from_wallet: senderWalletId,
      to_wallet: receiverWalletId,
    },
  });
  const posted = await postMovement(
    transaction,
    tenantId,
    movementId,
    [
      {
        walletId: senderWalletId,
        delta: -input.amount,
        type: 'transfer_out',
        counterpartyWalletId: receiverWalletId,
        description: input.description,
      },
      {
        walletId: receiverWalletId,
        delta: input.amount,
        type: 'transfer_in',
        counterpartyWalletId: senderWalletId,
        description: input.description,
      },
    ],
    {
      beforeWrite: async (wallets) => {
        await assertDailyOutgoing(transaction, tenantId, senderWalletId, senderLimits, input.amount);
        assertBalanceWithinLimit(
          receiverLimits,
          wallets.get(receiverWalletId)?.balance ?? 0,
          'the recipient',
        );
      },
    },
  );
  const sent = posted[0];
  if (!sent) throw new Error('a transfer posts its sender entry first');
  return {
    status: 201,
    body: {
      transaction_id: movementId,
      entry_id: sent.id,
      type: 'transfer_out',
      status: 'completed',
      asset: asset.code,
      amount: input.amount,
      to_account_number: input.to_account_number,
      description,
      balance_before: customerBalances(sent).balanceBefore,
      balance_after: customerBalances(sent).balanceAfter,
      created_at: new Date().toISOString(),
    },
  };
}
