import { sql } from 'kysely';
import type { TopupApprovalStatus } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

/** The queries of maker–checker top-ups (table topup_approvals, migration 0008). */
const approvalColumns = [
  'id',
  'status',
  'beneficiary_id',
  'asset_code',
  'amount',
  'description',
  'maker_id',
  'checker_id',
  'rejection_reason',
  'transaction_id',
  'created_at',
  'decided_at',
] as const;

/** The user a staff member wants to credit, unless deactivated: whether they exist and their role. */
export async function findBeneficiary(transaction: ScopedTransaction, tenantId: string, userId: string) {
  return transaction
    .selectFrom('users')
    .select(['id', 'role'])
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

export interface NewApproval {
  tenantId: string;
  beneficiaryId: string;
  assetCode: string;
  amount: number;
  description: string | undefined;
  makerId: string;
}

export async function insertApproval(transaction: ScopedTransaction, approval: NewApproval) {
  return transaction
    .insertInto('topup_approvals')
    .values({
      tenant_id: approval.tenantId,
      beneficiary_id: approval.beneficiaryId,
      asset_code: approval.assetCode,
      amount: approval.amount,
      description: approval.description ?? null,
      maker_id: approval.makerId,
    })
    .returning(approvalColumns)
    .executeTakeFirstOrThrow();
}

export type ApprovalRow = Awaited<ReturnType<typeof insertApproval>>;

/**
 * One request; with `lock`, under a row lock: two checkers approving at once take turns, and the
 * second sees the first one's decision (READ COMMITTED re-reads the locked row), so the top-up posts
 * exactly once.
 */
export async function findApproval(
  transaction: ScopedTransaction,
  tenantId: string,
  approvalId: string,
  lock: 'for update' | undefined = undefined,
): Promise<ApprovalRow | undefined> {
  const query = transaction
    .selectFrom('topup_approvals')
    .select(approvalColumns)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', approvalId);
  return (lock ? query.forUpdate() : query).executeTakeFirst();
}

export type Decision =
  | { status: 'approved'; transactionId: string }
  | { status: 'rejected'; rejectionReason: string };

/** Records the checker's decision of a pending request (the caller holds its row lock). */
export async function decideApproval(
  transaction: ScopedTransaction,
  tenantId: string,
  approvalId: string,
  checkerId: string,
  decision: Decision,
): Promise<ApprovalRow> {
  return transaction
    .updateTable('topup_approvals')
    .set({
      status: decision.status,
      checker_id: checkerId,
      transaction_id: decision.status === 'approved' ? decision.transactionId : null,
      rejection_reason: decision.status === 'rejected' ? decision.rejectionReason : null,
      decided_at: sql`now()`,
    })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', approvalId)
    .where('status', '=', 'pending')
    .returning(approvalColumns)
    .executeTakeFirstOrThrow();
}

/** Newest first, keyset-paginated on the id alone (uuid v7, time-ordered). */
export async function listApprovals(
  transaction: ScopedTransaction,
  tenantId: string,
  status: TopupApprovalStatus,
  limit: number,
  beforeId: string | undefined,
): Promise<ApprovalRow[]> {
  let query = transaction
    .selectFrom('topup_approvals')
    .select(approvalColumns)
    .where('tenant_id', '=', tenantId)
    .where('status', '=', status);
  if (beforeId) query = query.where('id', '<', beforeId);
  return query.orderBy('id', 'desc').limit(limit).execute();
}
