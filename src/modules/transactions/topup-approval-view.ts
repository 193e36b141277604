import type { TopupApprovalStatus } from '../../db/schema.ts';
import type { ApprovalRow } from './topup-approvals.repository.ts';

/** A top-up request as the API shows it (maker, checker and decision included). */
export interface ApprovalView extends Record<string, unknown> {
  id: string;
  status: TopupApprovalStatus;
  user_id: string;
  asset: string;
  amount: number;
  description: string | null;
  maker_id: string;
  checker_id: string | null;
  rejection_reason: string | null;
  transaction_id: string | null;
  created_at: string;
  decided_at: string | null;
}

export function approvalView(row: ApprovalRow): ApprovalView {
  return {
    id: row.id,
    status: row.status,
    user_id: row.beneficiary_id,
    asset: row.asset_code,
    amount: row.amount,
    description: row.description,
    maker_id: row.maker_id,
    checker_id: row.checker_id,
    rejection_reason: row.rejection_reason,
    transaction_id: row.transaction_id,
    created_at: row.created_at.toISOString(),
    decided_at: row.decided_at?.toISOString() ?? null,
  };
}
