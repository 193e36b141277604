import { type Kysely, sql } from 'kysely';
import type { ComplianceReportSource, ComplianceReportType, Database } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

/**
 * Compliance reports and the reads they are built from. Every function takes the tenant it reads
 * for; the period is [from, to): from inclusive, to exclusive.
 */
const summaryColumns = [
  'id',
  'report_type',
  'report_period_start',
  'report_period_end',
  'total_records',
  'report_hash',
  'generated_by',
  'created_by',
  'created_at',
  'submitted_to_authority',
  'submission_date',
  'authority_acknowledgment',
] as const;
const reportColumns = [...summaryColumns, 'report_data'] as const;

export interface Period {
  from: Date;
  to: Date;
}

export interface NewReport {
  report_type: ComplianceReportType;
  period: Period;
  total_records: number;
  report_data: string;
  report_hash: string;
  generated_by: ComplianceReportSource;
  created_by: string | null;
}

/**
 * Inserts a report. A scheduled one conflicts with the schedule's earlier report of the same type and
 * period (the partial unique index of migration 0020) and then inserts nothing: undefined.
 */
export function insertReport(transaction: ScopedTransaction, tenantId: string, report: NewReport) {
  const { period, ...fields } = report;
  return transaction
    .insertInto('compliance_reports')
    .values({
      ...fields,
      tenant_id: tenantId,
      report_period_start: period.from,
      report_period_end: period.to,
    })
    .onConflict((conflict) =>
      conflict
        .columns(['tenant_id', 'report_type', 'report_period_start', 'report_period_end'])
        .where('generated_by', '=', 'schedule')
        .doNothing(),
    )
    .returning(reportColumns)
    .executeTakeFirst();
}

export type ReportRow = NonNullable<Awaited<ReturnType<typeof insertReport>>>;

export function findReport(transaction: ScopedTransaction, tenantId: string, id: string) {
  return transaction
    .selectFrom('compliance_reports')
    .select(reportColumns)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Newest first by id (UUID v7, unique): a keyset that neither skips nor repeats a report. */
export function listReports(
  transaction: ScopedTransaction,
  tenantId: string,
  type: ComplianceReportType | undefined,
  beforeId: string | undefined,
  limit: number,
) {
  let query = transaction
    .selectFrom('compliance_reports')
    .select(summaryColumns)
    .where('tenant_id', '=', tenantId);
  if (type) query = query.where('report_type', '=', type);
  if (beforeId) query = query.where('id', '<', beforeId);
  return query.orderBy('id', 'desc').limit(limit).execute();
}

/** Records the submission if none is recorded yet: one conditional statement, so only one wins. */
export function recordReportSubmission(
  transaction: ScopedTransaction,
  tenantId: string,
  id: string,
  submission: { date: Date; acknowledgment: string | null },
) {
  return transaction
    .updateTable('compliance_reports')
    .set({
      submitted_to_authority: true,
      submission_date: submission.date,
      authority_acknowledgment: submission.acknowledgment,
    })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .where('submitted_to_authority', '=', false)
    .returning(reportColumns)
    .executeTakeFirst();
}

export async function scheduledReportExists(
  transaction: ScopedTransaction,
  tenantId: string,
  type: ComplianceReportType,
  period: Period,
): Promise<boolean> {
  const row = await transaction
    .selectFrom('compliance_reports')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('report_type', '=', type)
    .where('report_period_start', '=', period.from)
    .where('report_period_end', '=', period.to)
    .where('generated_by', '=', 'schedule')
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * A transaction advisory lock per tenant for the scheduled generation: a second server checking the
 * same tenant at the same time gets false and leaves the report to the first.
 */
export async function tryLockTenantSchedule(
  transaction: ScopedTransaction,
  tenantId: string,
): Promise<boolean> {
  const result = await sql<{ locked: boolean }>`
    select pg_try_advisory_xact_lock(hashtextextended(${`corebank.compliance-schedule.${tenantId}`}, 0)) as locked`.execute(
    transaction,
  );
  return result.rows[0]?.locked === true;
}

export function activeTenantIds(db: Kysely<Database>) {
  return db.selectFrom('tenants').select('id').where('status', '=', 'active').orderBy('id').execute();
}

/** Customer wallet entries (system wallets, the other side of top-ups and fees, left out) per UTC day. */
export async function dailyTransactionGroups(
  transaction: ScopedTransaction,
  tenantId: string,
  period: Period,
) {
  const result = await sql<{
    day: string;
    asset_code: string;
    type: string;
    status: string;
    count: number;
    amount_total_minor: string;
  }>`
    select to_char(t.created_at at time zone 'UTC', 'YYYY-MM-DD') as day, t.asset_code, t.type, t.status,
           count(*)::int as count, sum(t.amount)::text as amount_total_minor
    from transactions t
    where t.tenant_id = ${tenantId} and t.user_id is not null
      and t.created_at >= ${period.from} and t.created_at < ${period.to}
    group by 1, 2, 3, 4`.execute(transaction);
  return result.rows;
}

/** Money a customer moved (top-ups, withdrawals, outgoing transfers — each transfer once) of at least amountMin. */
export async function largeTransactionEntries(
  transaction: ScopedTransaction,
  tenantId: string,
  period: Period,
  amountMin: number,
  limit: number,
) {
  const result = await sql<{
    id: string;
    created_at: string;
    user_id: string;
    wallet_id: string;
    asset_code: string;
    type: string;
    status: string;
    amount_minor: string;
  }>`
    select t.id, to_char(t.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at,
           t.user_id, t.wallet_id, t.asset_code, t.type, t.status, t.amount::text as amount_minor
    from transactions t
    where t.tenant_id = ${tenantId} and t.user_id is not null
      and t.type in ('topup', 'withdraw', 'transfer_out') and t.amount >= ${amountMin}
      and t.created_at >= ${period.from} and t.created_at < ${period.to}
    order by t.created_at, t.id
    limit ${limit}`.execute(transaction);
  return result.rows;
}

/** Failed and blocked login attempts by kind, outcome and reason. */
export async function loginFailureGroups(transaction: ScopedTransaction, tenantId: string, period: Period) {
  const result = await sql<{ login_type: string; status: string; failure_reason: string; count: number }>`
    select l.login_type, l.status, coalesce(l.failure_reason, '') as failure_reason, count(*)::int as count
    from login_audits l
    where l.tenant_id = ${tenantId} and l.status in ('failed', 'blocked')
      and l.created_at >= ${period.from} and l.created_at < ${period.to}
    group by 1, 2, 3`.execute(transaction);
  return result.rows;
}

/** Lockouts: the ACCOUNT_LOCKED security event each lock writes (login-attempts.ts). */
export async function lockoutCounts(transaction: ScopedTransaction, tenantId: string, period: Period) {
  const result = await sql<{ lockouts: number; users: number }>`
    select count(*)::int as lockouts, count(distinct e.user_id)::int as users
    from security_events e
    where e.tenant_id = ${tenantId} and e.event_type = 'ACCOUNT_LOCKED'
      and e.created_at >= ${period.from} and e.created_at < ${period.to}`.execute(transaction);
  return result.rows[0] ?? { lockouts: 0, users: 0 };
}

/** KYC submissions of the period by tier and their status now. */
export async function kycStatusGroups(transaction: ScopedTransaction, tenantId: string, period: Period) {
  const result = await sql<{ tier_level: number; status: string; count: number }>`
    select k.tier_level::int as tier_level, k.status, count(*)::int as count
    from kyc_records k
    where k.tenant_id = ${tenantId} and k.submitted_at >= ${period.from} and k.submitted_at < ${period.to}
    group by 1, 2`.execute(transaction);
  return result.rows;
}

/** Reviews decided in the period (whenever submitted), by outcome. */
export async function kycReviewCounts(transaction: ScopedTransaction, tenantId: string, period: Period) {
  const result = await sql<{ status: string; count: number }>`
    select k.status, count(*)::int as count
    from kyc_records k
    where k.tenant_id = ${tenantId} and k.reviewed_at >= ${period.from} and k.reviewed_at < ${period.to}
    group by 1`.execute(transaction);
  return result.rows;
}

/** Incidents opened in the period by severity and their status now. */
export async function incidentGroups(transaction: ScopedTransaction, tenantId: string, period: Period) {
  const result = await sql<{ severity: string; status: string; count: number }>`
    select i.severity, i.status, count(*)::int as count
    from security_incidents i
    where i.tenant_id = ${tenantId} and i.created_at >= ${period.from} and i.created_at < ${period.to}
    group by 1, 2`.execute(transaction);
  return result.rows;
}

/** Incidents (opened whenever) resolved and closed within the period. */
export async function incidentOutcomeCounts(
  transaction: ScopedTransaction,
  tenantId: string,
  period: Period,
) {
  const result = await sql<{ resolved: number; closed: number }>`
    select count(*) filter (where i.resolved_at >= ${period.from} and i.resolved_at < ${period.to})::int as resolved,
           count(*) filter (where i.closed_at >= ${period.from} and i.closed_at < ${period.to})::int as closed
    from security_incidents i
    where i.tenant_id = ${tenantId}`.execute(transaction);
  return result.rows[0] ?? { resolved: 0, closed: 0 };
}

/** Audit rows written in the period, and how many of them are sealed into the chain. */
export async function auditRowCounts(transaction: ScopedTransaction, tenantId: string, period: Period) {
  const result = await sql<{ rows: number; sealed: number }>`
    select count(*)::int as rows, count(a.row_hash)::int as sealed
    from audit_logs a
    where a.tenant_id = ${tenantId} and a.created_at >= ${period.from} and a.created_at < ${period.to}`.execute(
    transaction,
  );
  return result.rows[0] ?? { rows: 0, sealed: 0 };
}

/** The tenant a command names by slug, when it exists and is active. */
export function findActiveTenantBySlug(db: Kysely<Database>, slug: string) {
  return db
    .selectFrom('tenants')
    .select('id')
    .where('slug', '=', slug)
    .where('status', '=', 'active')
    .executeTakeFirst();
}

/**
 * The hash the generation's audit row recorded (recordAudit's new_values, sealed into the tenant's
 * HMAC chain): a report rewritten together with its hash in compliance_reports still disagrees here.
 */
export async function generatedHashInAudit(
  transaction: ScopedTransaction,
  tenantId: string,
  reportId: string,
): Promise<string | undefined> {
  const result = await sql<{ report_sha256: string | null }>`
    select a.new_values->>'report_sha256' as report_sha256
    from audit_logs a
    where a.tenant_id = ${tenantId} and a.entity_type = 'compliance_report' and a.entity_id = ${reportId}
      and a.action = 'generate'
    order by a.created_at, a.id
    limit 1`.execute(transaction);
  return result.rows[0]?.report_sha256 ?? undefined;
}
