import { statementMigration } from './run-statements.ts';

/**
 * Retention (issue 11 item 1, seed 004 data_retention_policies): the policies gain what the retention
 * job needs, and the archives it writes are recorded.
 *
 * `archived_through` is the job's watermark per table: every row created before it has been copied to
 * an archive file. The job archives [archived_through, now − archive_after_days) and then deletes only
 * rows older than both the delete age and the watermark, so no row is deleted before it was archived
 * (when the table archives at all). The staff may edit the ages and the active flag (column grants).
 *
 * `retention_archives` is the commit marker of an archive file: the row is inserted in the transaction
 * that deletes (or detaches) the archived rows, so a file without a row comes from a run that rolled
 * back and its rows are still in the database. Owner-only, like `backups`.
 *
 * The seeded ages follow the issue: the API access log is kept 90 days, OTP sessions 1 day; audit logs
 * and login audits stay at 7 years, security events at 2 years.
 *
 * Frozen in time: this file must never import application code.
 */
const daysMax = 36_500;

const up = [
  'alter table data_retention_policies add column archived_through timestamptz',
  `alter table data_retention_policies add constraint data_retention_policies_days_bounds check (
     retention_period_days <= ${daysMax}
     and (archive_after_days is null or archive_after_days <= ${daysMax})
     and (delete_after_days is null or delete_after_days <= ${daysMax}))`,
  `alter table data_retention_policies add constraint data_retention_policies_delete_after_archive check (
     delete_after_days is null or archive_after_days is null or delete_after_days >= archive_after_days)`,
  `update data_retention_policies set retention_period_days = 90, archive_after_days = 30, delete_after_days = 90
     where table_name = 'api_access_log'`,
  `insert into data_retention_policies (table_name, retention_period_days, archive_after_days, delete_after_days)
     values ('otp_sessions', 1, null, 1) on conflict (table_name) do nothing`,
  `grant update (retention_period_days, archive_after_days, delete_after_days, is_active)
     on data_retention_policies to corebank_app`,

  `create table retention_archives (
     id uuid primary key default corebank_uuid_v7(),
     table_name varchar(100) not null,
     file_name text not null unique,
     sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
     size_bytes bigint not null check (size_bytes >= 0),
     row_count bigint not null check (row_count >= 0),
     range_start timestamptz,
     range_end timestamptz not null,
     encryption_key_id text,
     created_at timestamptz not null default now(),
     check (range_start is null or range_start < range_end)
   )`,
  'create index idx_retention_archives_table on retention_archives (table_name, range_end)',
];

const down = [
  'drop table if exists retention_archives',
  'revoke update on data_retention_policies from corebank_app',
  `delete from data_retention_policies where table_name = 'otp_sessions'`,
  `update data_retention_policies set retention_period_days = 365, archive_after_days = 90, delete_after_days = 365
     where table_name = 'api_access_log'`,
  'alter table data_retention_policies drop constraint if exists data_retention_policies_delete_after_archive',
  'alter table data_retention_policies drop constraint if exists data_retention_policies_days_bounds',
  'alter table data_retention_policies drop column if exists archived_through',
];

export const migration = statementMigration(up, down);
