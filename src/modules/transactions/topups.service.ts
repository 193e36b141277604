import assert from 'node:assert/strict';
import { v7 as uuidV7 } from 'uuid';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import type { AuditContext } from '../../platform/audit/audit-trail.ts';
import { staffRoles } from '../../platform/auth/permissions.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import type { MoneyResponse } from '../ledger/idempotency.ts';
import { type Posting, post } from '../ledger/ledger.engine.ts';
import { customerBalances, type PostedEntry } from '../ledger/ledger-posting.ts';
import type { MoneyServices } from '../ledger/money-services.ts';
import { loadMover } from '../ledger/mover.ts';
import { claimStaffCredit } from '../limits/limits.repository.ts';
import { assertBalanceWithinLimit, limitsFor } from '../limits/limits.rules.ts';
import { assertAmount, requireAsset } from '../wallets/assets.service.ts';
import { ensureCustomerWallet, ensureSystemWallet } from '../wallets/wallets.repository.ts';
import { approvalView } from './topup-approval-view.ts';
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
  return post(
    services,
    { tenantId: principal.tenantId },
    {
      callerId: principal.userId,
      key: idempotencyKey,
      endpoint: selfTopupEndpoint,
      body: input,
      describe: (transaction) =>
        describeTopup(services, transaction, principal.tenantId, audit, beneficiaryId, input),
    },
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
  const tenantId = principal.tenantId;
  const describe = async (transaction: ScopedTransaction): Promise<Posting<MoneyResponse>> => {
    await assertStaffMayCredit(transaction, principal, beneficiaryId);
    const asset = await requireAsset(transaction, input.asset ?? 'IDR');
    assertAmount(input.amount, asset);
    const threshold = services.money.staffTopupApprovalThresholds.get(asset.code) ?? 0;
    // The threshold bounds the staff member's direct credits of the day, not each one: a large top-up
    // split into small ones still waits for a checker once the day's total passes it.
    if (
      await claimStaffCredit(transaction, tenantId, principal.userId, asset.code, input.amount, threshold)
    ) {
      return describeTopup(services, transaction, tenantId, audit, beneficiaryId, input);
    }
    return describeTopupApproval(transaction, principal, audit, beneficiaryId, {
      ...input,
      asset: asset.code,
    });
  };
  return post(
    services,
    { tenantId },
    { callerId: principal.userId, key: idempotencyKey, endpoint, body: input, describe },
  );
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
 * A top-up as the engine posts it: cash-in → the customer's wallet, the tier's balance limit checked
 * under the wallet lock, the TOPUP audit row. An approved request posts through here too, in the
 * checker's transaction, so its balances, entries and audit row commit with the approval.
 */
export async function describeTopup(
  services: MoneyServices,
  transaction: ScopedTransaction,
  tenantId: string,
  audit: AuditContext,
  beneficiaryId: string,
  input: TopupInput,
): Promise<Posting<MoneyResponse> & { change: { kind: 'movement'; movementId: string } }> {
  const asset = await requireAsset(transaction, input.asset ?? 'IDR');
  assertAmount(input.amount, asset);
  const mover = await loadMover(transaction, tenantId, beneficiaryId, services.money, asset.code);
  const limits = limitsFor(services.money, mover.kycTier, asset.code);
  const walletId =
    mover.walletId ?? (await ensureCustomerWallet(transaction, tenantId, beneficiaryId, asset.code));
  const cashInId = await ensureSystemWallet(transaction, tenantId, asset.code, 'cash_in');
  const movementId = uuidV7();
  return {
    change: {
      kind: 'movement',
      movementId,
      entries: [
        { walletId: cashInId, delta: -input.amount, type: 'topup', counterpartyWalletId: walletId },
        {
          walletId,
          delta: input.amount,
          type: 'topup',
          counterpartyWalletId: cashInId,
          description: input.description,
        },
      ],
    },
    beforeWrite: async (wallets) =>
      assertBalanceWithinLimit(limits, wallets.get(walletId)?.balance ?? 0, 'your'),
    audit: {
      context: audit,
      entry: {
        entityType: 'transaction',
        entityId: movementId,
        action: 'TOPUP',
        newValues: { asset: asset.code, amount: input.amount, wallet: walletId },
      },
    },
    respond: (posted) => topupResponse(movementId, beneficiaryId, asset.code, input, posted),
  };
}

function topupResponse(
  movementId: string,
  beneficiaryId: string,
  assetCode: string,
  input: TopupInput,
  posted: readonly PostedEntry[],
): MoneyResponse {
  const credited = posted[1];
  assert.ok(credited, 'a top-up posts the customer entry second');
  return {
    status: 201,
    body: {
      transaction_id: movementId,
      entry_id: credited.id,
      user_id: beneficiaryId,
      type: 'topup',
      status: 'completed',
      asset: assetCode,
      amount: input.amount,
      description: input.description ?? null,
      balance_before: customerBalances(credited).balanceBefore,
      balance_after: customerBalances(credited).balanceAfter,
      created_at: new Date().toISOString(),
    },
  };
}

/** The maker's side of maker–checker: the pending request and its audit row; no money moves (202). */
async function describeTopupApproval(
  transaction: ScopedTransaction,
  maker: Principal,
  audit: AuditContext,
  beneficiaryId: string,
  input: { amount: number; asset: string; description?: string | undefined },
): Promise<Posting<MoneyResponse>> {
  const row = await insertApproval(transaction, {
    tenantId: maker.tenantId,
    beneficiaryId,
    assetCode: input.asset,
    amount: input.amount,
    description: input.description,
    makerId: maker.userId,
  });
  return {
    audit: {
      context: audit,
      entry: {
        entityType: 'topup_approval',
        entityId: row.id,
        action: 'TOPUP_REQUEST',
        newValues: { status: 'pending', user_id: beneficiaryId, asset: input.asset, amount: input.amount },
      },
    },
    respond: () => ({ status: 202, body: approvalView(row) as unknown as Record<string, unknown> }),
  };
}
