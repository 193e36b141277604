import { statementMigration } from './run-statements.ts';

/**
 * Platform: the application roles, the helper functions every later migration uses (time-ordered
 * UUIDs, tenant policies, append-only guards, monthly partitions), and the global reference tables
 * (tenants, assets, roles, threat intelligence, retention policies, backups).
 *
 * Frozen in time: this file must never import application code.
 */
const up = [
  // Roles are cluster-wide; create them only if another database on the server has not already.
  `do $$ begin
     if not exists (select 1 from pg_roles where rolname = 'corebank_app') then
       create role corebank_app nologin;
     end if;
     if not exists (select 1 from pg_roles where rolname = 'corebank_sealer') then
       create role corebank_sealer nologin;
     end if;
   end $$`,
  // The migrating user must be able to SET ROLE to both (a superuser already can).
  `do $$ begin
     if not pg_has_role(current_user, 'corebank_app', 'MEMBER') then
       execute format('grant corebank_app to %I', current_user);
     end if;
     if not pg_has_role(current_user, 'corebank_sealer', 'MEMBER') then
       execute format('grant corebank_sealer to %I', current_user);
     end if;
   end $$`,
  'grant usage on schema public to corebank_app, corebank_sealer',

  // UUID version 7: 48-bit millisecond timestamp, then random bits (RFC 9562). PostgreSQL 15 has no
  // native uuidv7(), so one portable definition serves both engines.
  `create or replace function corebank_uuid_v7() returns uuid language sql volatile as $$
     select encode(
       set_bit(set_bit(
         overlay(uuid_send(gen_random_uuid())
           placing substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
           from 1 for 6),
         52, 1), 53, 1),
       'hex')::uuid
   $$`,

  `create or replace function corebank_current_tenant() returns uuid language sql stable as $$
     select nullif(current_setting('app.tenant_id', true), '')::uuid
   $$`,
  `create or replace function corebank_current_user() returns uuid language sql stable as $$
     select nullif(current_setting('app.user_id', true), '')::uuid
   $$`,

  `create or replace function corebank_touch_updated_at() returns trigger language plpgsql as $$
   begin
     new.updated_at := now();
     return new;
   end $$`,

  // Maintenance (clear, restore, retention) runs as the owner with corebank.maintenance = on in its
  // own transaction; the application roles can never pass, whatever they set.
  `create or replace function corebank_in_maintenance() returns boolean language sql stable as $$
     select coalesce(current_setting('corebank.maintenance', true), '') = 'on'
        and current_user not in ('corebank_app', 'corebank_sealer')
   $$`,

  `create or replace function corebank_forbid_change() returns trigger language plpgsql as $$
   begin
     if corebank_in_maintenance() then
       return case when tg_op = 'DELETE' then old else new end;
     end if;
     raise exception '% is append-only: % is not allowed', tg_table_name, tg_op
       using errcode = 'insufficient_privilege';
   end $$`,

  /*
   * Protects a tenant-scoped table: RLS enabled and forced (the owner is subject to it too), one
   * policy on the transaction's tenant, privileges for the application role by access kind:
   * 'crud' (read and write), 'append' (insert and read only; updates and deletes raise in a trigger).
   */
  `create or replace function corebank_protect_tenant_table(table_name text, access text)
   returns void language plpgsql as $$
   begin
     execute format('alter table %I enable row level security', table_name);
     execute format('alter table %I force row level security', table_name);
     execute format(
       'create policy tenant_isolation on %I using (tenant_id = corebank_current_tenant())
          with check (tenant_id = corebank_current_tenant())', table_name);
     if access = 'crud' then
       execute format('grant select, insert, update, delete on %I to corebank_app', table_name);
     elsif access = 'append' then
       execute format('grant select, insert on %I to corebank_app', table_name);
       execute format(
         'create trigger forbid_change before update or delete on %I
            for each row execute function corebank_forbid_change()', table_name);
       execute format(
         'create trigger forbid_truncate before truncate on %I
            for each statement execute function corebank_forbid_change()', table_name);
     else
       raise exception 'unknown access kind %', access;
     end if;
   end $$`,

  /*
   * Restricts a user-private table further: when the transaction acts for a customer
   * (app.user_id set), only that customer's rows are visible or writable.
   */
  `create or replace function corebank_protect_user_rows(table_name text, owner_column text)
   returns void language plpgsql as $$
   begin
     execute format(
       'create policy user_isolation on %I as restrictive
          using (corebank_current_user() is null or %I = corebank_current_user())
          with check (corebank_current_user() is null or %I = corebank_current_user())',
       table_name, owner_column, owner_column);
   end $$`,

  `create or replace function corebank_add_updated_at_trigger(table_name text) returns void
   language plpgsql as $$
   begin
     execute format(
       'create trigger touch_updated_at before update on %I
          for each row execute function corebank_touch_updated_at()', table_name);
   end $$`,

  `create table tenants (
     id uuid primary key default corebank_uuid_v7(),
     slug varchar(63) not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
     name varchar(255) not null check (char_length(name) between 1 and 255),
     status varchar(20) not null default 'active' check (status in ('active', 'suspended')),
     settings jsonb not null default '{}',
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now()
   )`,
  `select corebank_add_updated_at_trigger('tenants')`,
  'grant select on tenants to corebank_app, corebank_sealer',

  `create table assets (
     code varchar(16) primary key check (code ~ '^[A-Za-z0-9]{2,16}$'),
     name varchar(100) not null,
     kind varchar(10) not null check (kind in ('fiat', 'crypto', 'token')),
     scale smallint not null check (scale between 0 and 18),
     maximum_amount bigint not null check (maximum_amount > 0 and maximum_amount <= 9007199254740991),
     is_active boolean not null default true,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now()
   )`,
  `select corebank_add_updated_at_trigger('assets')`,
  'grant select on assets to corebank_app',
  `insert into assets (code, name, kind, scale, maximum_amount) values
     ('IDR', 'Indonesian rupiah', 'fiat', 2, 100000000000000),
     ('USD', 'US dollar', 'fiat', 2, 10000000000000),
     ('BTC', 'Bitcoin', 'crypto', 8, 2100000000000000),
     ('iSTSi', 'iSTSi custody token', 'token', 8, 9007199254740991)`,

  `create table roles (
     name varchar(50) primary key
       check (name in ('super_admin', 'admin', 'manager', 'officer', 'customer')),
     description varchar(255) not null,
     is_staff boolean not null,
     created_at timestamptz not null default now()
   )`,
  `create table role_permissions (
     role_name varchar(50) not null references roles (name) on delete cascade,
     permission varchar(100) not null check (permission ~ '^[a-z_]+(:[a-z_]+)+$'),
     primary key (role_name, permission)
   )`,
  'grant select on roles, role_permissions to corebank_app',
  `insert into roles (name, description, is_staff) values
     ('super_admin', 'Full system access, including staff management', true),
     ('admin', 'Administers customers, content and configuration', true),
     ('manager', 'Oversees operations and approves exceptions', true),
     ('officer', 'Compliance and KYC officer', true),
     ('customer', 'Banking customer', false)`,

  `create table threat_intelligence (
     id uuid primary key default corebank_uuid_v7(),
     indicator_type varchar(50) not null check (indicator_type in ('ip', 'domain', 'email', 'hash')),
     indicator_value varchar(500) not null,
     threat_type varchar(100) not null,
     severity varchar(20) not null check (severity in ('low', 'medium', 'high', 'critical')),
     confidence numeric(5, 2) not null default 50 check (confidence between 0 and 100),
     source varchar(100) not null,
     source_url text,
     description text,
     metadata jsonb not null default '{}',
     first_seen timestamptz not null default now(),
     last_seen timestamptz not null default now(),
     expires_at timestamptz,
     is_active boolean not null default true,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     unique (indicator_type, indicator_value, source)
   )`,
  'create index idx_threat_intel_indicator_value on threat_intelligence (indicator_value)',
  'create index idx_threat_intel_active_expires on threat_intelligence (is_active, expires_at)',
  `select corebank_add_updated_at_trigger('threat_intelligence')`,
  'grant select, insert, update on threat_intelligence to corebank_app',

  `create table data_retention_policies (
     id uuid primary key default corebank_uuid_v7(),
     table_name varchar(100) not null unique,
     retention_period_days integer not null check (retention_period_days > 0),
     archive_after_days integer check (archive_after_days > 0),
     delete_after_days integer check (delete_after_days > 0),
     last_cleanup_at timestamptz,
     is_active boolean not null default true,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     check (delete_after_days is null or delete_after_days >= retention_period_days)
   )`,
  `select corebank_add_updated_at_trigger('data_retention_policies')`,
  'grant select on data_retention_policies to corebank_app',
  `insert into data_retention_policies (table_name, retention_period_days, archive_after_days, delete_after_days)
   values ('audit_logs', 2555, 365, 2555), ('login_audits', 2555, 365, 2555),
          ('api_access_log', 365, 90, 365), ('security_events', 730, 180, 730),
          ('session_logs', 365, null, 365)`,

  `create table backups (
     id uuid primary key default corebank_uuid_v7(),
     file_name text not null,
     mode text not null check (mode in ('full', 'schema-only', 'data-only')),
     sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
     size_bytes bigint not null check (size_bytes >= 0),
     schema_version text not null,
     row_counts jsonb not null default '{}',
     engine text not null check (engine in ('pglite', 'postgres')),
     created_at timestamptz not null default now()
   )`,
];

const down = [
  'drop table if exists backups',
  'drop table if exists data_retention_policies',
  'drop table if exists threat_intelligence',
  'drop table if exists role_permissions',
  'drop table if exists roles',
  'drop table if exists assets',
  'drop table if exists tenants',
  'drop function if exists corebank_add_updated_at_trigger(text)',
  'drop function if exists corebank_protect_user_rows(text, text)',
  'drop function if exists corebank_protect_tenant_table(text, text)',
  'drop function if exists corebank_forbid_change()',
  'drop function if exists corebank_in_maintenance()',
  'drop function if exists corebank_touch_updated_at()',
  'drop function if exists corebank_current_user()',
  'drop function if exists corebank_current_tenant()',
  'drop function if exists corebank_uuid_v7()',
  // The roles stay: they are cluster-wide and other databases on the server may use them.
  'revoke usage on schema public from corebank_app, corebank_sealer',
];

export const migration = statementMigration(up, down);
