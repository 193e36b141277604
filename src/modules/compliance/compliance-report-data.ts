import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { AppError } from '../../platform/errors.ts';
import {
  dailyTransactionGroups,
  incidentGroups,
  incidentOutcomeCounts,
  kycReviewCounts,
  kycStatusGroups,
  largeTransactionEntries,
  lockoutCounts,
  loginFailureGroups,
  type Period,
} from './compliance.repository.ts';
import type { ReportType } from './compliance.schemas.ts';

/**
 * The content of each report type: its rows (the CSV lines, each a flat record of strings, integers
 * and booleans), the summary figures and the parameters it was built with. Money stays a string of
 * integer minor units (a sum may pass 2^53, and RFC 8785 numbers are IEEE doubles); counts are
 * numbers. Rows are sorted in JavaScript by code unit, so the order (and the hash) is the same on
 * every engine whatever its collation.
 */
export type ReportCell = string | number | boolean | null;
export type ReportRecord = Record<string, ReportCell>;

export interface ReportContent {
  columns: readonly string[];
  rows: ReportRecord[];
  summary: Record<string, ReportCell>;
  parameters: Record<string, ReportCell>;
  totalRecords: number;
}

/** The most rows a report lists: past it the period must be shortened (COMPLIANCE_REPORT_TOO_LARGE). */
export const reportRowsMax = 10_000;

export interface ReportSettings {
  largeTransactionMinor: number;
}

function compareText(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

function sortRows<Row extends ReportRecord>(rows: Row[], keys: readonly (keyof Row & string)[]): Row[] {
  return rows.sort((left, right) => {
    for (const key of keys) {
      const order = compareText(String(left[key]), String(right[key]));
      if (order !== 0) return order;
    }
    return 0;
  });
}

const sum = (rows: readonly { count: number }[]) => rows.reduce((total, row) => total + row.count, 0);

async function dailyTransactions(transaction: ScopedTransaction, tenantId: string, period: Period) {
  const rows = sortRows(await dailyTransactionGroups(transaction, tenantId, period), [
    'day',
    'asset_code',
    'type',
    'status',
  ]);
  const days = new Set(rows.map((row) => row.day));
  return {
    columns: ['day', 'asset_code', 'type', 'status', 'count', 'amount_total_minor'],
    rows,
    summary: { entries: sum(rows), days_with_entries: days.size },
    parameters: { day_boundary: 'UTC', wallets: 'customer' },
    totalRecords: sum(rows),
  };
}

async function largeTransactions(
  transaction: ScopedTransaction,
  tenantId: string,
  period: Period,
  settings: ReportSettings,
) {
  const amountMin = settings.largeTransactionMinor;
  const rows = await largeTransactionEntries(transaction, tenantId, period, amountMin, reportRowsMax + 1);
  if (rows.length > reportRowsMax) throw new AppError('COMPLIANCE_REPORT_TOO_LARGE');
  return {
    columns: ['id', 'created_at', 'user_id', 'wallet_id', 'asset_code', 'type', 'status', 'amount_minor'],
    rows,
    summary: { entries: rows.length, users: new Set(rows.map((row) => row.user_id)).size },
    parameters: { amount_min_minor: String(amountMin), types: 'topup,withdraw,transfer_out' },
    totalRecords: rows.length,
  };
}

async function loginFailures(transaction: ScopedTransaction, tenantId: string, period: Period) {
  const groups = await loginFailureGroups(transaction, tenantId, period);
  const lockouts = await lockoutCounts(transaction, tenantId, period);
  const rows: ReportRecord[] = sortRows(
    groups.map((group) => ({ category: 'login_attempt', ...group })),
    ['login_type', 'status', 'failure_reason'],
  );
  if (lockouts.lockouts > 0) {
    rows.push({
      category: 'lockout',
      login_type: '',
      status: 'locked',
      failure_reason: 'failed_attempts',
      count: lockouts.lockouts,
    });
  }
  const attempts = sum(groups);
  return {
    columns: ['category', 'login_type', 'status', 'failure_reason', 'count'],
    rows,
    summary: {
      failed_attempts: sum(groups.filter((group) => group.status === 'failed')),
      blocked_attempts: sum(groups.filter((group) => group.status === 'blocked')),
      lockouts: lockouts.lockouts,
      locked_users: lockouts.users,
    },
    parameters: {},
    totalRecords: attempts + lockouts.lockouts,
  };
}

async function kycStatuses(transaction: ScopedTransaction, tenantId: string, period: Period) {
  const rows = sortRows(await kycStatusGroups(transaction, tenantId, period), ['tier_level', 'status']);
  const reviews = await kycReviewCounts(transaction, tenantId, period);
  const reviewed = (status: string) => reviews.find((row) => row.status === status)?.count ?? 0;
  return {
    columns: ['tier_level', 'status', 'count'],
    rows,
    summary: {
      submitted: sum(rows),
      approved_in_period: reviewed('approved'),
      rejected_in_period: reviewed('rejected'),
    },
    parameters: { submissions_by: 'submitted_at', status_as_of: 'generated_at' },
    totalRecords: sum(rows),
  };
}

async function securityIncidents(transaction: ScopedTransaction, tenantId: string, period: Period) {
  const rows = sortRows(await incidentGroups(transaction, tenantId, period), ['severity', 'status']);
  const outcomes = await incidentOutcomeCounts(transaction, tenantId, period);
  return {
    columns: ['severity', 'status', 'count'],
    rows,
    summary: { opened: sum(rows), resolved_in_period: outcomes.resolved, closed_in_period: outcomes.closed },
    parameters: { incidents_by: 'created_at', status_as_of: 'generated_at' },
    totalRecords: sum(rows),
  };
}

/** The content of a report of every type but the attestation (compliance-attestation.ts builds that). */
export function buildReportContent(
  transaction: ScopedTransaction,
  tenantId: string,
  type: Exclude<ReportType, 'audit_integrity_attestation'>,
  period: Period,
  settings: ReportSettings,
): Promise<ReportContent> {
  switch (type) {
    case 'daily_transaction_summary':
      return dailyTransactions(transaction, tenantId, period);
    case 'large_transactions':
      return largeTransactions(transaction, tenantId, period, settings);
    case 'login_failure_summary':
      return loginFailures(transaction, tenantId, period);
    case 'kyc_status_summary':
      return kycStatuses(transaction, tenantId, period);
    case 'security_incident_summary':
      return securityIncidents(transaction, tenantId, period);
  }
}
