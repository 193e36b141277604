import assert from 'node:assert/strict';
import type { TopupApprovalStatus } from '../../db/schema.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { decodeIdCursor, encodeIdCursor } from '../../platform/pagination.ts';
import type { MoneyResponse } from '../ledger/idempotency.ts';
import { type Posting, post } from '../ledger/ledger.engine.ts';
import type { MoneyServices } from '../ledger/money-services.ts';
import { type ApprovalView, approvalView } from './topup-approval-view.ts';
import {
  type ApprovalRow,
  decideApproval,
  findApproval,
  listApprovals,
} from './topup-approvals.repository.ts';
import { assertStaffMayCredit, describeTopup } from './topups.service.ts';

/**
 * Maker–checker for large staff top-ups (issue 7.6). The maker's request is stored pending (202); a
 * different staff member holding topups:approve approves it, which posts the top-up through the
 * top-up service in the same transaction as the decision, exactly once, or rejects it with a reason.
 * Both the request and the decision are audited.
 */
/** The checks every decision makes on the locked request before it changes anything. */
async function lockPendingForChecker(
  transaction: ScopedTransaction,
  checker: Principal,
  approvalId: string,
): Promise<ApprovalRow> {
  const approval = await findApproval(transaction, checker.tenantId, approvalId, 'for update');
  if (!approval) throw new AppError('NOT_FOUND', 'No top-up request with this id.');
  if (approval.maker_id === checker.userId) {
    throw new AppError('SEGREGATION_OF_DUTIES', 'The maker of a top-up request cannot decide it.');
  }
  return approval;
}

/**
 * POST /v1/admin/topup-approvals/:id/approve. Approving an approved request again answers the same
 * decision without posting anything; a rejected one is TOPUP_APPROVAL_DECIDED.
 */
export async function approveTopup(
  services: MoneyServices,
  checker: Principal,
  audit: AuditContext,
  approvalId: string,
): Promise<ApprovalView> {
  const endpoint = `POST /v1/admin/topup-approvals/${approvalId}/approve`;
  const response = await post(
    services,
    { tenantId: checker.tenantId },
    {
      callerId: checker.userId,
      key: undefined,
      endpoint,
      body: {},
      describe: (transaction) => describeApproval(services, transaction, checker, audit, approvalId),
    },
  );
  return response.body as unknown as ApprovalView;
}

/**
 * The approved request's top-up, posted by the engine in the checker's transaction, with the decision
 * and its TOPUP_APPROVE audit row written after the balances, exactly once.
 */
async function describeApproval(
  services: MoneyServices,
  transaction: ScopedTransaction,
  checker: Principal,
  audit: AuditContext,
  approvalId: string,
): Promise<Posting<MoneyResponse>> {
  const approval = await lockPendingForChecker(transaction, checker, approvalId);
  if (approval.status === 'approved') return { respond: () => approvalResponse(approval) };
  if (approval.status === 'rejected') throw new AppError('TOPUP_APPROVAL_DECIDED');
  // The beneficiary may have become staff, or the checker, since the request was made.
  await assertStaffMayCredit(transaction, checker, approval.beneficiary_id);
  const subject = { ...audit, userId: approval.beneficiary_id };
  const topup = await describeTopup(
    services,
    transaction,
    checker.tenantId,
    subject,
    approval.beneficiary_id,
    {
      amount: approval.amount,
      asset: approval.asset_code,
      description: approval.description ?? undefined,
    },
  );
  const movementId = topup.change.movementId;
  let decided: ApprovalRow | undefined;
  return {
    ...topup,
    afterWrite: async () => {
      decided = await decideApproval(transaction, checker.tenantId, approval.id, checker.userId, {
        status: 'approved',
        transactionId: movementId,
      });
      await recordAudit(transaction, subject, {
        entityType: 'topup_approval',
        entityId: approval.id,
        action: 'TOPUP_APPROVE',
        oldValues: { status: 'pending' },
        newValues: { status: 'approved', maker_id: approval.maker_id, transaction_id: movementId },
      });
    },
    respond: () => {
      assert.ok(decided, 'the decision is written before the response');
      return approvalResponse(decided);
    },
  };
}

function approvalResponse(approval: ApprovalRow): MoneyResponse {
  return { status: 200, body: approvalView(approval) as unknown as Record<string, unknown> };
}

/** POST /v1/admin/topup-approvals/:id/reject: no money moves; the reason is kept and audited. */
export async function rejectTopup(
  services: MoneyServices,
  checker: Principal,
  audit: AuditContext,
  approvalId: string,
  reason: string,
): Promise<ApprovalView> {
  return withScope(services.db, { tenantId: checker.tenantId }, async (transaction) => {
    const approval = await lockPendingForChecker(transaction, checker, approvalId);
    if (approval.status !== 'pending') throw new AppError('TOPUP_APPROVAL_DECIDED');
    const decided = await decideApproval(transaction, checker.tenantId, approval.id, checker.userId, {
      status: 'rejected',
      rejectionReason: reason,
    });
    await recordAudit(
      transaction,
      { ...audit, userId: approval.beneficiary_id },
      {
        entityType: 'topup_approval',
        entityId: approval.id,
        action: 'TOPUP_REJECT',
        oldValues: { status: 'pending' },
        newValues: { status: 'rejected', maker_id: approval.maker_id, rejection_reason: reason },
      },
    );
    return approvalView(decided);
  });
}

export async function viewTopupApproval(
  services: MoneyServices,
  principal: Principal,
  approvalId: string,
): Promise<ApprovalView> {
  const row = await withScope(services.db, { tenantId: principal.tenantId }, (transaction) =>
    findApproval(transaction, principal.tenantId, approvalId),
  );
  if (!row) throw new AppError('NOT_FOUND', 'No top-up request with this id.');
  return approvalView(row);
}

/** GET /v1/admin/topup-approvals: the checkers' queue, newest first. */
export async function listTopupApprovals(
  services: MoneyServices,
  principal: Principal,
  query: { status: TopupApprovalStatus; limit: number; cursor?: string | undefined },
): Promise<{ approvals: ApprovalView[]; next_cursor: string | null }> {
  const beforeId = query.cursor ? decodeIdCursor(query.cursor) : undefined;
  const rows = await withScope(services.db, { tenantId: principal.tenantId }, (transaction) =>
    listApprovals(transaction, principal.tenantId, query.status, query.limit + 1, beforeId),
  );
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    approvals: page.map(approvalView),
    next_cursor: rows.length > query.limit && last ? encodeIdCursor(last.id) : null,
  };
}
