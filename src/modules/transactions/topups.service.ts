import { v7 as uuidV7 } from 'uuid';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import { staffRoles } from '../../platform/auth/permissions.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { type MoneyResponse, runMoneyOperation } from '../idempotency/idempotency.service.ts';
import { customerBalances, postMovement } from '../ledger/ledger-posting.ts';
import type { MoneyServices } from '../ledger/money-services.ts';
import { loadMover } from '../ledger/mover.ts';
import { claimStaffCredit } from '../limits/limits.repository.ts';
import { assertBalanceWithinLimit, limitsFor } from '../limits/limits.rules.ts';
import { assertAmount, requireAsset } from '../wallets/assets.service.ts';
import { ensureCustomerWallet, ensureSystemWallet } from '../wallets/wallets.repository.ts';
import { type ApprovalView, approvalView } from './topup-approval-view.ts';
import { findBeneficiary, insertApproval } from './topup-approvals.repository.ts';

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
 * or through staff); staff with users:topup credit customers, never themselves or another staff
 * member, and above the approval threshold only through a second staff member (staffTopup).
 */
export async function topup(
  services: MoneyServices,
  principal: Principal,
  audit: AuditContext,
  idempotencyKey: string | undefined,
  beneficiaryId: string,
  input: TopupInput,
): Promise<MoneyResponse> {
  if (principal.isStaff) return staffTopup(services, principal, audit, idempotencyKey, beneficiaryId, input);
  if (beneficiaryId !== principal.userId) throw new AppError('FORBIDDEN');
  if (!services.money.selfTopupAllowed) {
    throw new AppError('FORBIDDEN', 'Top-up is only possible from an allowed funding source or by staff.');
  }
  return runMoneyOperation(services, principal, idempotencyKey, selfTopupEndpoint, input, (transaction) =>
    postTopup(services, transaction, principal.tenantId, audit, beneficiaryId, input),
  );
}

/**
 * Segregation of duties (issue 7.6): staff never credit their own account or another staff member's,
 * and a top-up above the asset's approval threshold becomes a pending request (202) that another
 * staff member approves (topup-approvals.service.ts) before any money moves.
 */
async function staffTopup(
  services: MoneyServices,
  principal: Principal,
  audit: AuditContext,
  idempotencyKey: string | undefined,
  beneficiaryId: string,
  input: TopupInput,
): Promise<MoneyResponse> {
  const endpoint = `${staffTopupEndpoint} ${beneficiaryId}`;
  return runMoneyOperation(services, principal, idempotencyKey, endpoint, input, async (transaction) => {
    await assertStaffMayCredit(transaction, principal, beneficiaryId);
    const asset = await requireAsset(transaction, input.asset ?? 'IDR');
    assertAmount(input.amount, asset);
    const threshold = services.money.staffTopupApprovalThresholds.get(asset.code) ?? 0;
    // The threshold bounds the staff member's direct credits of the day, not each one: a large top-up
    // split into small ones still waits for a checker once the day's total passes it.
    const tenantId = principal.tenantId;
    if (
      await claimStaffCredit(transaction, tenantId, principal.userId, asset.code, input.amount, threshold)
    ) {
      return postTopup(services, transaction, tenantId, audit, beneficiaryId, input);
    }
    const approval = await requestTopupApproval(transaction, principal, audit, beneficiaryId, {
      ...input,
      asset: asset.code,
    });
    return { status: 202, body: approval };
  });
}

/** Throws unless the beneficiary is a customer other than the acting staff member. */
export async function assertStaffMayCredit(
  transaction: ScopedTransaction,
  principal: Principal,
  beneficiaryId: string,
): Promise<void> {
  if (beneficiaryId === principal.userId) {
    throw new AppError('SEGREGATION_OF_DUTIES', 'Staff may not credit their own account.');
  }
  const beneficiary = await findBeneficiary(transaction, principal.tenantId, beneficiaryId);
  if (!beneficiary) throw new AppError('NOT_FOUND', 'The user does not exist.');
  if (staffRoles.includes(beneficiary.role as 'admin')) {
    throw new AppError('SEGREGATION_OF_DUTIES', "Staff may not credit another staff member's account.");
  }
}

/**
 * The top-up of an approved request, posted in the checker's transaction through the same path as
 * every top-up, so the balances, the ledger entries and the TOPUP audit row commit with the approval.
 */
export async function postApprovedTopup(
  services: MoneyServices,
  transaction: ScopedTransaction,
  tenantId: string,
  audit: AuditContext,
  approval: { beneficiary_id: string; amount: number; asset_code: string; description: string | null },
): Promise<MoneyResponse> {
  return postTopup(services, transaction, tenantId, audit, approval.beneficiary_id, {
    amount: approval.amount,
    asset: approval.asset_code,
    description: approval.description ?? undefined,
  });
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

/** The maker's side of maker–checker: the pending request and its audit row, in the money transaction. */
async function requestTopupApproval(
  transaction: ScopedTransaction,
  maker: Principal,
  audit: AuditContext,
  beneficiaryId: string,
  input: { amount: number; asset: string; description?: string | undefined },
): Promise<ApprovalView> {
  const row = await insertApproval(transaction, {
    tenantId: maker.tenantId,
    beneficiaryId,
    assetCode: input.asset,
    amount: input.amount,
    description: input.description,
    makerId: maker.userId,
  });
  await recordAudit(transaction, audit, {
    entityType: 'topup_approval',
    entityId: row.id,
    action: 'TOPUP_REQUEST',
    newValues: { status: 'pending', user_id: beneficiaryId, asset: input.asset, amount: input.amount },
  });
  return approvalView(row);
}
