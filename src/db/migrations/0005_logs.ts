import { statementMigration } from './run-statements.ts';

/**
 * The high-volume logs, range-partitioned by month on created_at (seeds 000 and 001 ask for it):
 * the unified audit log (seed 000 audit_logs, 001 audit_logs, 002 audit_logs, 003 audit_log, 004
 * auth_audit_log), login audits (seed 000), security events (seed 001 security_logs, 003 and 004
 * security_events) and the API access log (seed 004).
 *
 * The primary key of a partitioned table must contain the partition key, hence
 * (tenant_id, id, created_at). A DEFAULT partition catches any row outside the prepared months, and
 * corebank_ensure_monthly_partitions() prepares the coming months (migration, server start, daily).
 */
const partitionedTables = ['audit_logs', 'login_audits', 'security_events', 'api_access_log'];
const sealColumns = `array['chain_sequence', 'previous_hash', 'row_hash', 'signature', 'signing_key_id', 'sealed_at']`;

const up = [
  `create table audit_logs (
     tenant_id uuid not null references tenants (id),
     id uuid not null default corebank_uuid_v7(),
     created_at timestamptz not null default now(),
     user_id uuid,
     admin_id uuid,
     event_type varchar(100) not null default 'DATA_CHANGE',
     event_status varchar(20) not null default 'SUCCESS' check (event_status in
       ('SUCCESS', 'FAILED', 'BLOCKED')),
     entity_type varchar(50) not null,
     entity_id varchar(100) not null,
     action varchar(50) not null,
     old_values jsonb,
     new_values jsonb,
     ip_address inet,
     user_agent text,
     api_endpoint varchar(255),
     request_method varchar(10),
     status_code integer check (status_code between 100 and 599),
     request_id varchar(64),
     session_id varchar(255),
     correlation_id uuid not null default gen_random_uuid(),
     device_fingerprint varchar(255),
     location jsonb,
     details jsonb not null default '{}',
     metadata jsonb not null default '{}',
     risk_score integer not null default 0 check (risk_score between 0 and 100),
     chain_sequence bigint,
     previous_hash varchar(64),
     row_hash varchar(64),
     signature varchar(128),
     signing_key_id varchar(64),
     sealed_at timestamptz,
     primary key (tenant_id, id, created_at),
     check ((row_hash is null) = (chain_sequence is null)),
     check ((row_hash is null) = (signature is null))
   ) partition by range (created_at)`,
  'create index idx_audit_logs_user_created on audit_logs (tenant_id, user_id, created_at desc)',
  'create index idx_audit_logs_admin on audit_logs (tenant_id, admin_id, created_at desc)',
  'create index idx_audit_logs_entity on audit_logs (tenant_id, entity_type, entity_id)',
  'create index idx_audit_logs_composite on audit_logs (tenant_id, entity_type, action, created_at desc)',
  'create index idx_audit_logs_event_type on audit_logs (tenant_id, event_type, created_at desc)',
  'create index idx_audit_logs_ip_address on audit_logs (ip_address)',
  'create index idx_audit_logs_chain on audit_logs (tenant_id, chain_sequence) where chain_sequence is not null',
  'create index idx_audit_logs_unsealed on audit_logs (tenant_id, created_at, id) where row_hash is null',

  /*
   * Audit rows are append-only. The one permitted update is the sealer's: filling the seal columns of
   * a row that has none, leaving every other column as it was.
   */
  `create or replace function corebank_audit_guard() returns trigger language plpgsql as $$
   begin
     if tg_op = 'UPDATE' and old.row_hash is null and new.row_hash is not null
        and (to_jsonb(new) - ${sealColumns}) = (to_jsonb(old) - ${sealColumns}) then
       return new;
     end if;
     if corebank_in_maintenance() then
       return case when tg_op = 'DELETE' then old else new end;
     end if;
     raise exception 'audit_logs is append-only: % is not allowed', tg_op
       using errcode = 'insufficient_privilege';
   end $$`,
  `create trigger audit_guard before update or delete on audit_logs
     for each row execute function corebank_audit_guard()`,
  `create trigger forbid_truncate before truncate on audit_logs
     for each statement execute function corebank_forbid_change()`,
  'alter table audit_logs enable row level security',
  'alter table audit_logs force row level security',
  `create policy tenant_isolation on audit_logs using (tenant_id = corebank_current_tenant())
     with check (tenant_id = corebank_current_tenant())`,
  `select corebank_protect_user_rows('audit_logs', 'user_id')`,
  'grant select, insert on audit_logs to corebank_app',
  `grant select, update (chain_sequence, previous_hash, row_hash, signature, signing_key_id, sealed_at)
     on audit_logs to corebank_sealer`,

  `create table audit_chain_heads (
     tenant_id uuid primary key references tenants (id),
     last_sequence bigint not null check (last_sequence >= 0),
     last_hash varchar(64) not null,
     last_sealed_at timestamptz not null,
     updated_at timestamptz not null default now()
   )`,
  'alter table audit_chain_heads enable row level security',
  'alter table audit_chain_heads force row level security',
  `create policy tenant_isolation on audit_chain_heads using (tenant_id = corebank_current_tenant())
     with check (tenant_id = corebank_current_tenant())`,
  'grant select on audit_chain_heads to corebank_app',
  'grant select, insert, update on audit_chain_heads to corebank_sealer',

  `create table login_audits (
     tenant_id uuid not null references tenants (id),
     id uuid not null default corebank_uuid_v7(),
     created_at timestamptz not null default now(),
     user_id uuid,
     admin_id uuid,
     login_type varchar(20) not null check (login_type in
       ('user_login', 'admin_login', 'user_logout', 'admin_logout')),
     status varchar(20) not null check (status in ('success', 'failed', 'blocked')),
     ip_address inet,
     user_agent varchar(255),
     device_info jsonb,
     failure_reason varchar(255),
     primary key (tenant_id, id, created_at)
   ) partition by range (created_at)`,
  'create index idx_login_audits_user_id on login_audits (tenant_id, user_id, created_at desc)',
  'create index idx_login_audits_admin_id on login_audits (tenant_id, admin_id, created_at desc)',
  'create index idx_login_audits_composite on login_audits (tenant_id, login_type, status, created_at desc)',
  'create index idx_login_audits_ip_address on login_audits (ip_address, created_at desc)',
  `select corebank_protect_tenant_table('login_audits', 'append')`,

  `create table security_events (
     tenant_id uuid not null references tenants (id),
     id uuid not null default corebank_uuid_v7(),
     created_at timestamptz not null default now(),
     user_id uuid,
     event_type varchar(100) not null,
     event_category varchar(50) not null check (event_category in
       ('authentication', 'authorization', 'session', 'threat', 'incident', 'data', 'compliance', 'system')),
     severity varchar(20) not null check (severity in ('low', 'medium', 'high', 'critical')),
     threat_type varchar(100),
     ip_address inet,
     device_fingerprint varchar(255),
     user_agent text,
     geolocation jsonb,
     description text,
     details jsonb not null default '{}',
     metadata jsonb not null default '{}',
     target_resource varchar(255),
     attack_vector varchar(100),
     detection_method varchar(100),
     risk_score numeric(5, 2) check (risk_score between 0 and 100),
     fraud_score numeric(5, 2) check (fraud_score between 0 and 1),
     anomaly_score numeric(5, 2) check (anomaly_score between 0 and 1),
     action_taken varchar(50) check (action_taken in ('allow', 'deny', 'challenge', 'block', 'lock')),
     mitigation_action varchar(100),
     is_resolved boolean not null default false,
     false_positive boolean not null default false,
     analyst_notes text,
     resolved_at timestamptz,
     resolved_by varchar(255),
     primary key (tenant_id, id, created_at),
     check (is_resolved = (resolved_at is not null))
   ) partition by range (created_at)`,
  'create index idx_security_events_user_timestamp on security_events (tenant_id, user_id, created_at desc)',
  'create index idx_security_events_tenant_type on security_events (tenant_id, event_type, created_at desc)',
  `create index idx_security_events_severity_timestamp on security_events
     (tenant_id, severity, created_at desc)`,
  'create index idx_security_events_category on security_events (tenant_id, event_category)',
  'create index idx_security_events_ip on security_events (ip_address)',
  `select corebank_protect_tenant_table('security_events', 'crud')`,

  `create table api_access_log (
     tenant_id uuid not null references tenants (id),
     id uuid not null default corebank_uuid_v7(),
     created_at timestamptz not null default now(),
     user_id uuid,
     request_id varchar(64) not null,
     method varchar(10) not null,
     endpoint varchar(255) not null,
     request_headers jsonb,
     request_body_hash varchar(64),
     response_status integer check (response_status between 100 and 599),
     response_time_ms integer check (response_time_ms >= 0),
     bytes_sent integer not null default 0 check (bytes_sent >= 0),
     bytes_received integer not null default 0 check (bytes_received >= 0),
     ip_address inet,
     user_agent text,
     api_key_id varchar(64),
     rate_limit_remaining integer,
     primary key (tenant_id, id, created_at)
   ) partition by range (created_at)`,
  'create index idx_api_access_log_user on api_access_log (tenant_id, user_id, created_at desc)',
  'create index idx_api_access_log_endpoint on api_access_log (tenant_id, endpoint, created_at desc)',
  `select corebank_protect_tenant_table('api_access_log', 'append')`,

  /*
   * Partitions need their own guards: PostgreSQL does not clone statement-level (TRUNCATE) triggers
   * to partitions, and policies are not inherited. RLS is enabled (not forced) with no policy, so the
   * application roles see nothing through a partition even if a future grant exposed one.
   */
  `create or replace function corebank_guard_partition(partition_name text, parent text)
   returns void language plpgsql as $$
   begin
     execute format('alter table %I enable row level security', partition_name);
     if parent in ('audit_logs', 'login_audits', 'api_access_log') then
       execute format(
         'create trigger forbid_truncate before truncate on %I
            for each statement execute function corebank_forbid_change()', partition_name);
     end if;
   end $$`,
  ...partitionedTables.flatMap((table) => [
    `create table ${table}_default partition of ${table} default`,
    `select corebank_guard_partition('${table}_default', '${table}')`,
  ]),

  // Security definer so the application's scheduled job can prepare partitions without owning the
  // tables; it creates nothing but the named monthly partitions of the four log tables.
  `create or replace function corebank_ensure_monthly_partitions(months_ahead integer)
   returns integer language plpgsql security definer set search_path = public as $$
   declare
     parent text;
     month_offset integer;
     month_start timestamptz;
     partition_name text;
     created integer := 0;
   begin
     if months_ahead < 0 or months_ahead > 24 then
       raise exception 'months_ahead must be between 0 and 24';
     end if;
     foreach parent in array array[${partitionedTables.map((table) => `'${table}'`).join(', ')}] loop
       for month_offset in -1..months_ahead loop
         month_start := date_trunc('month', now() at time zone 'UTC') at time zone 'UTC'
                        + make_interval(months => month_offset);
         partition_name := format('%s_p%s', parent, to_char(month_start at time zone 'UTC', 'YYYY_MM'));
         if to_regclass(partition_name) is null then
           -- One month that cannot be created (rows for it already sit in the default partition)
           -- must not stop the others: warn and go on; those rows stay queryable in the default.
           begin
             execute format('create table %I partition of %I for values from (%L) to (%L)',
               partition_name, parent, month_start, month_start + interval '1 month');
             perform corebank_guard_partition(partition_name, parent);
             created := created + 1;
           exception when check_violation then
             raise warning 'partition % not created: the default partition holds rows for that month',
               partition_name;
           end;
         end if;
       end loop;
     end loop;
     return created;
   end $$`,
  'grant execute on function corebank_ensure_monthly_partitions(integer) to corebank_app',
  'select corebank_ensure_monthly_partitions(3)',
];

const down = [
  'drop function if exists corebank_ensure_monthly_partitions(integer)',
  'drop function if exists corebank_guard_partition(text, text)',
  'drop table if exists api_access_log',
  'drop table if exists security_events',
  'drop table if exists login_audits',
  'drop table if exists audit_chain_heads',
  'drop table if exists audit_logs',
  'drop function if exists corebank_audit_guard()',
];

export const migration = statementMigration(up, down);
