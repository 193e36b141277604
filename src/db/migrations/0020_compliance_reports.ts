import { statementMigration } from './run-statements.ts';

/**
 * Compliance reports (issue 11 item 4) on the seed-004 table of migration 0004.
 *
 * `generated_by` says who asked for a report: a staff member over HTTP (`staff`, created_by is the
 * member), the `corebank report generate` command (`cli`) or the daily schedule (`schedule`). The
 * schedule's reports are unique per tenant, type and period, so two servers running the job at once,
 * or one retrying after a crash, store one report, not two. Reports asked for by hand are not: an
 * operator may regenerate a period, and each generation is its own signed record.
 *
 * The hash is SHA-256 hex (64 characters) and the type is one of the report types the service knows;
 * both are CHECKed so a row written outside the service cannot pass for a report.
 *
 * Frozen in time: this file must never import application code.
 */
const up = [
  `alter table compliance_reports
     add column generated_by varchar(16) not null default 'staff'
       check (generated_by in ('staff', 'cli', 'schedule'))`,
  `alter table compliance_reports
     add constraint compliance_reports_hash_format check (report_hash ~ '^[0-9a-f]{64}$')`,
  `alter table compliance_reports
     add constraint compliance_reports_type_known check (report_type in ('daily_transaction_summary',
       'large_transactions', 'login_failure_summary', 'kyc_status_summary', 'security_incident_summary',
       'audit_integrity_attestation'))`,
  `alter table compliance_reports
     add constraint compliance_reports_acknowledgment_submitted
       check (authority_acknowledgment is null or submitted_to_authority)`,
  `create unique index uq_compliance_reports_scheduled
     on compliance_reports (tenant_id, report_type, report_period_start, report_period_end)
     where generated_by = 'schedule'`,
];

const down = [
  'drop index if exists uq_compliance_reports_scheduled',
  'alter table compliance_reports drop constraint if exists compliance_reports_acknowledgment_submitted',
  'alter table compliance_reports drop constraint if exists compliance_reports_type_known',
  'alter table compliance_reports drop constraint if exists compliance_reports_hash_format',
  'alter table compliance_reports drop column if exists generated_by',
];

export const migration = statementMigration(up, down);
