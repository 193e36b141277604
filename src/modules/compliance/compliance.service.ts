import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import type { Config } from '../../config/config.ts';
import type { ComplianceReportSource, Database } from '../../db/schema.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import { recordsAsCsv } from '../../platform/csv.ts';
import { AppError } from '../../platform/errors.ts';
import { decodeIdCursor, nextIdCursor } from '../../platform/pagination.ts';
import {
  findActiveTenantBySlug,
  findReport,
  generatedHashInAudit,
  insertReport,
  listReports,
  type Period,
  type ReportRow,
  recordReportSubmission,
} from './compliance.repository.ts';
import type {
  DownloadFormat,
  ReportListQuery,
  ReportSummaryView,
  ReportType,
  ReportView,
  SubmissionBody,
  VerificationView,
} from './compliance.schemas.ts';
import { type AttestationSettings, buildAttestation } from './compliance-attestation.ts';
import { reportDataHash } from './compliance-hash.ts';
import { buildReportContent, type ReportContent, type ReportSettings } from './compliance-report-data.ts';

/** The version of report_data's layout, inside the data so the hash covers it. */
export const reportFormat = 'corebank.compliance-report.v1';
/** The longest period a report covers: a leap year. */
export const periodDaysMax = 366;
const dayMs = 86_400_000;

export interface ComplianceSettings extends ReportSettings, AttestationSettings {}

export function complianceSettings(config: Config): ComplianceSettings {
  const { directory, keyName, signingKey, publicKeys } = config.auditCheckpoint;
  return {
    largeTransactionMinor: config.compliance.largeTransactionMinor,
    auditKeys: new Map([[config.auditHmacKeyId, config.auditHmacKey]]),
    checkpoints: publicKeys.length > 0 ? { directory, keys: { keyName, signingKey, publicKeys } } : undefined,
  };
}

export interface ReportRequest {
  type: ReportType;
  from: string;
  to: string;
}

function invalidPeriod(field: string, reason: string): AppError {
  return new AppError('COMPLIANCE_PERIOD_INVALID', undefined, [{ field, reason }]);
}

/** [from, to): to after from, at most periodDaysMax days later, and not after now. */
export function parsePeriod(from: string, to: string, now: Date): Period {
  const period = { from: new Date(from), to: new Date(to) };
  if (Number.isNaN(period.from.getTime())) throw invalidPeriod('from', 'is not a date-time');
  if (Number.isNaN(period.to.getTime())) throw invalidPeriod('to', 'is not a date-time');
  if (period.to <= period.from) throw invalidPeriod('to', 'must be after from');
  if (period.to.getTime() - period.from.getTime() > periodDaysMax * dayMs) {
    throw invalidPeriod('to', `must be at most ${periodDaysMax} days after from`);
  }
  if (period.to > now) throw invalidPeriod('to', 'must not be in the future');
  return period;
}

const iso = (value: Date | null) => (value ? value.toISOString() : null);

function summaryView(row: Omit<ReportRow, 'report_data'>): ReportSummaryView {
  return {
    ...row,
    report_period_start: row.report_period_start.toISOString(),
    report_period_end: row.report_period_end.toISOString(),
    created_at: row.created_at.toISOString(),
    submission_date: iso(row.submission_date),
  };
}

function reportView(row: ReportRow): ReportView {
  return { ...summaryView(row), report_data: row.report_data };
}

function reportData(tenantId: string, type: ReportType, period: Period, content: ReportContent) {
  return {
    format: reportFormat,
    report_type: type,
    tenant_id: tenantId,
    period_start: period.from.toISOString(),
    period_end: period.to.toISOString(),
    generated_at: new Date().toISOString(),
    total_records: content.totalRecords,
    parameters: content.parameters,
    summary: content.summary,
    columns: content.columns,
    rows: content.rows,
  };
}

interface Generation {
  type: ReportType;
  period: Period;
  source: ComplianceReportSource;
  /** The attestation, built before the transaction: the chain walk runs in transactions of its own. */
  attestation: ReportContent | undefined;
}

/** Builds, hashes, stores and audits one report in the caller's transaction; undefined for a scheduled duplicate. */
export async function storeReport(
  transaction: ScopedTransaction,
  settings: ComplianceSettings,
  context: AuditContext,
  generation: Generation,
): Promise<ReportRow | undefined> {
  const { type, period, source } = generation;
  const content =
    type === 'audit_integrity_attestation'
      ? generation.attestation
      : await buildReportContent(transaction, context.tenantId, type, period, settings);
  assert.ok(content, 'an attestation is built before its transaction');
  const data = reportData(context.tenantId, type, period, content);
  const row = await insertReport(transaction, context.tenantId, {
    report_type: type,
    period,
    total_records: content.totalRecords,
    report_data: JSON.stringify(data),
    report_hash: reportDataHash(data),
    generated_by: source,
    created_by: context.adminId ?? null,
  });
  if (!row) return undefined;
  await recordAudit(transaction, context, {
    entityType: 'compliance_report',
    entityId: row.id,
    action: 'generate',
    eventType: 'COMPLIANCE',
    newValues: {
      report_type: type,
      period_start: data.period_start,
      period_end: data.period_end,
      total_records: row.total_records,
      // Not `report_hash`: maskSecrets redacts a key with a word starting "hash" (logger.ts).
      report_sha256: row.report_hash,
      generated_by: source,
    },
  });
  return row;
}

export async function prepareAttestation(
  db: Kysely<Database>,
  settings: ComplianceSettings,
  tenantId: string,
  type: ReportType,
  period: Period,
): Promise<ReportContent | undefined> {
  return type === 'audit_integrity_attestation'
    ? buildAttestation(db, tenantId, period, settings)
    : undefined;
}

/** POST /v1/admin/compliance/reports and `corebank report generate`: one report for the period, now. */
export async function generateReport(
  db: Kysely<Database>,
  settings: ComplianceSettings,
  context: AuditContext,
  request: ReportRequest,
  source: Exclude<ComplianceReportSource, 'schedule'>,
): Promise<ReportView> {
  const period = parsePeriod(request.from, request.to, new Date());
  const attestation = await prepareAttestation(db, settings, context.tenantId, request.type, period);
  const row = await withScope(db, { tenantId: context.tenantId }, (transaction) =>
    storeReport(transaction, settings, context, { type: request.type, period, source, attestation }),
  );
  assert.ok(row, 'only a scheduled report can meet a duplicate');
  return reportView(row);
}

export async function listTenantReports(db: Kysely<Database>, tenantId: string, query: ReportListQuery) {
  const beforeId = query.cursor ? decodeIdCursor(query.cursor) : undefined;
  const rows = await withScope(db, { tenantId }, (transaction) =>
    listReports(transaction, tenantId, query.type, beforeId, query.limit + 1),
  );
  return {
    reports: rows.slice(0, query.limit).map(summaryView),
    next_cursor: nextIdCursor(rows, query.limit),
  };
}

async function requireReport(transaction: ScopedTransaction, tenantId: string, id: string) {
  const row = await findReport(transaction, tenantId, id);
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

export async function readReport(db: Kysely<Database>, tenantId: string, id: string): Promise<ReportView> {
  return reportView(
    await withScope(db, { tenantId }, (transaction) => requireReport(transaction, tenantId, id)),
  );
}

/**
 * Recomputes the hash of the stored report_data and compares it with the stored report_hash and with
 * the hash the generation's audit row recorded; the columns that repeat what the data says (type,
 * period, total) must agree with it too.
 */
export function checkReport(row: ReportRow, auditedHash: string | undefined): VerificationView {
  const computed = reportDataHash(row.report_data);
  const data = row.report_data;
  const problems: string[] = [];
  if (computed !== row.report_hash) problems.push('report_hash is not the hash of report_data');
  if (auditedHash === undefined) problems.push('the audit trail records no generation of this report');
  else if (auditedHash !== row.report_hash) {
    problems.push('report_hash differs from the hash the audit trail recorded at generation');
  }
  if (data.report_type !== row.report_type) problems.push('report_type differs from report_data');
  if (data.period_start !== row.report_period_start.toISOString()) {
    problems.push('report_period_start differs from report_data');
  }
  if (data.period_end !== row.report_period_end.toISOString()) {
    problems.push('report_period_end differs from report_data');
  }
  if (data.total_records !== row.total_records) problems.push('total_records differs from report_data');
  return {
    id: row.id,
    valid: problems.length === 0,
    report_hash: row.report_hash,
    computed_hash: computed,
    audited_hash: auditedHash ?? null,
    problems,
  };
}

export async function verifyReport(
  db: Kysely<Database>,
  context: AuditContext,
  id: string,
): Promise<VerificationView> {
  return withScope(db, { tenantId: context.tenantId }, async (transaction) => {
    const row = await requireReport(transaction, context.tenantId, id);
    const verification = checkReport(row, await generatedHashInAudit(transaction, context.tenantId, id));
    await recordAudit(transaction, context, {
      entityType: 'compliance_report',
      entityId: id,
      action: 'verify',
      eventType: 'COMPLIANCE',
      eventStatus: verification.valid ? 'SUCCESS' : 'FAILED',
      details: { valid: verification.valid, problems: verification.problems },
    });
    return verification;
  });
}

/** The stored rows of a report as CSV, under the stored column names; a report that lost them has none. */
function reportCsv(data: Record<string, unknown>): string {
  const columns = Array.isArray(data.columns) ? data.columns.filter((item) => typeof item === 'string') : [];
  const rows = Array.isArray(data.rows)
    ? data.rows.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null)
    : [];
  return recordsAsCsv(columns, rows);
}

export interface ReportDownload {
  fileName: string;
  contentType: string;
  body: string;
}

/** The report as a file: JSON (the report with its hash, as GET answers it) or its rows as CSV. Audited. */
export async function downloadReport(
  db: Kysely<Database>,
  context: AuditContext,
  id: string,
  format: DownloadFormat,
): Promise<ReportDownload> {
  const row = await withScope(db, { tenantId: context.tenantId }, async (transaction) => {
    const found = await requireReport(transaction, context.tenantId, id);
    await recordAudit(transaction, context, {
      entityType: 'compliance_report',
      entityId: id,
      action: 'download',
      eventType: 'DATA_EXPORT',
      details: { format },
    });
    return found;
  });
  const fileName = `compliance-report-${row.report_type}-${row.id}.${format}`;
  return format === 'csv'
    ? { fileName, contentType: 'text/csv; charset=utf-8', body: reportCsv(row.report_data) }
    : { fileName, contentType: 'application/json; charset=utf-8', body: JSON.stringify(reportView(row)) };
}

/** Records the submission to the authority, once: a second is COMPLIANCE_REPORT_ALREADY_SUBMITTED. */
export async function recordSubmission(
  db: Kysely<Database>,
  context: AuditContext,
  id: string,
  body: SubmissionBody,
): Promise<ReportView> {
  const date = body.submission_date === undefined ? new Date() : new Date(body.submission_date);
  if (date.getTime() > Date.now()) {
    throw new AppError('VALIDATION_FAILED', undefined, [
      { field: 'body.submission_date', reason: 'must not be in the future' },
    ]);
  }
  const row = await withScope(db, { tenantId: context.tenantId }, async (transaction) => {
    const current = await requireReport(transaction, context.tenantId, id);
    if (date < current.created_at) {
      throw new AppError('VALIDATION_FAILED', undefined, [
        { field: 'body.submission_date', reason: 'must not be before the report was generated' },
      ]);
    }
    const updated = await recordReportSubmission(transaction, context.tenantId, id, {
      date,
      acknowledgment: body.authority_acknowledgment ?? null,
    });
    if (!updated) throw new AppError('COMPLIANCE_REPORT_ALREADY_SUBMITTED');
    await recordAudit(transaction, context, {
      entityType: 'compliance_report',
      entityId: id,
      action: 'submit',
      eventType: 'COMPLIANCE',
      newValues: {
        submission_date: date.toISOString(),
        authority_acknowledgment: body.authority_acknowledgment ?? null,
      },
    });
    return updated;
  });
  return reportView(row);
}

/** `corebank report generate --tenant SLUG`: the tenant's id, or undefined when no active tenant has the slug. */
export async function activeTenantId(db: Kysely<Database>, slug: string): Promise<string | undefined> {
  return (await findActiveTenantBySlug(db, slug))?.id;
}
