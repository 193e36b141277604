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
  limitsFor,
  loadMover,
  type MoneyServices,
  requireAsset,
} from '../operations/money-rules.ts';
import { ensureCustomerWallet, ensureSystemWallet } from '../wallets/wallets.repository.ts';

export interface TopupInput {
  amount: number;
  asset?: string | undefined;
  description?: string | undefined;
}

export const selfTopupEndpoint = 'POST /v1/transactions/topup';
export const staffTopupEndpoint = 'POST /v1/admin/users/:id/topup';

/**
 * Credits a customer from the tenant's cash-in account. Customers may top up themselves only where
 * configuration allows it (development and test; in production money arrives from a funding source
 * or through staff); staff with users:topup credit any customer.
 */
export async function topup(
  services: MoneyServices,
  principal: Principal,
  audit: AuditContext,
  idempotencyKey: string | undefined,
  beneficiaryId: string,
  input: TopupInput,
): Promise<MoneyResponse> {
  const bySelf = beneficiaryId === principal.userId && !principal.isStaff;
  if (bySelf && !services.money.selfTopupAllowed) {
    throw new AppError('FORBIDDEN', 'Top-up is only possible from an allowed funding source or by staff.');
  }
  return runMoneyOperation(
    services,
    principal,
    idempotencyKey,
    bySelf ? selfTopupEndpoint : `${staffTopupEndpoint} ${beneficiaryId}`,
    input,
    (transaction) => postTopup(services, transaction, principal.tenantId, audit, beneficiaryId, input),
  );
}

async function postTopup(
  services: MoneyServices,
  transaction: ScopedTransaction,
  tenantId: string,
  audit: AuditContext,
  beneficiaryId: string,
  input: TopupInput,
): Promise<MoneyResponse> {
  const asset = await requireAsset(transaction, input.asset ?? 'IDR');
  assertAmount(input.amount, asset);
  const mover = await loadMover(transaction, tenantId, beneficiaryId, services.money, asset.code);
  const limits = limitsFor(services.money, mover.kycTier, asset.code);
  const walletId =
    mover.walletId ?? (await ensureCustomerWallet(transaction, tenantId, beneficiaryId, asset.code));
  const cashInId = await ensureSystemWallet(transaction, tenantId, asset.code, 'cash_in');
  const movementId = uuidV7();
  await recordAudit(transaction, audit, {
    entityType: 'transaction',
    entityId: movementId,
    action: 'TOPUP',
    newValues: { asset: asset.code, amount: input.amount, wallet: walletId },
  });
  const posted = await postMovement(
    transaction,
    tenantId,
    movementId,
    [
      { walletId: cashInId, delta: -input.amount, type: 'topup', counterpartyWalletId: walletId },
      {
        walletId,
        delta: input.amount,
        type: 'topup',
        counterpartyWalletId: cashInId,
        description: input.description,
      },
    ],
    {
      beforeWrite: async (wallets) =>
        assertBalanceWithinLimit(limits, wallets.get(walletId)?.balance ?? 0, 'your'),
    },
  );
  const credited = posted[1];
  if (!credited) throw new Error('a top-up posts the customer entry second');
  return {
    status: 201,
    body: {
      transaction_id: movementId,
      entry_id: credited.id,
      user_id: beneficiaryId,
      type: 'topup',
      status: 'completed',
      asset: asset.code,
      amount: input.amount,
      description: input.description ?? null,
      balance_before: customerBalances(credited).balanceBefore,
      balance_after: customerBalances(credited).balanceAfter,
      created_at: new Date().toISOString(),
    },
  };
}
