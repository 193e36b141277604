import { statementMigration } from './run-statements.ts';

/**
 * Security operations, first part (issue 10): a customer reads their own login history, security
 * events and API access entries, and row-level security — not only a WHERE clause — keeps every other
 * user's rows out of their transaction, as it already does for audit_logs. The restrictive
 * user_isolation policy (corebank_protect_user_rows) applies only when a transaction acts for a
 * customer (app.user_id set); staff investigation and the writers that act for the tenant see the
 * tenant's rows as before.
 *
 * Frozen in time: this file must never import application code.
 */
const up = [
  // A login audit is a customer's (user_id) or a staff member's (admin_id): either reads their own.
  `create policy user_isolation on login_audits as restrictive
     using (corebank_current_user() is null or user_id = corebank_current_user()
            or admin_id = corebank_current_user())
     with check (corebank_current_user() is null or user_id = corebank_current_user()
                 or admin_id = corebank_current_user())`,
  `select corebank_protect_user_rows('security_events', 'user_id')`,
  `select corebank_protect_user_rows('api_access_log', 'user_id')`,
  // Keyset pages of the investigation lists walk (tenant, created_at desc, id desc).
  'create index idx_login_audits_created on login_audits (tenant_id, created_at desc, id desc)',
  'create index idx_security_events_created on security_events (tenant_id, created_at desc, id desc)',
  'create index idx_api_access_log_created on api_access_log (tenant_id, created_at desc, id desc)',
  'create index idx_audit_logs_created on audit_logs (tenant_id, created_at desc, id desc)',
  `create index idx_rate_limit_violations_created on rate_limit_violations
     (tenant_id, created_at desc, id desc)`,
];

const down = [
  'drop index if exists idx_rate_limit_violations_created',
  'drop index if exists idx_audit_logs_created',
  'drop index if exists idx_api_access_log_created',
  'drop index if exists idx_security_events_created',
  'drop index if exists idx_login_audits_created',
  'drop policy if exists user_isolation on api_access_log',
  'drop policy if exists user_isolation on security_events',
  'drop policy if exists user_isolation on login_audits',
];

export const migration = statementMigration(up, down);
