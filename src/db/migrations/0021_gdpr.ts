import { statementMigration } from './run-statements.ts';

/**
 * GDPR (issue 11 item 5; seed 000 "export of all their data", seed 001 DATA_EXPORT_REQUESTED and
 * ACCOUNT_DELETION_REQUESTED): a customer's data exports, and the erasure of a customer's personal data
 * in place.
 *
 * data_exports: one row per export request. A background job claims a requested row (`for update skip
 * locked`, so two processes never both produce it), builds the archive and stores it encrypted
 * (AES-256-GCM, bound to the tenant, user and export id) until it expires. At most one export per
 * customer is pending (requested or running) at a time.
 *
 * user_erasures: one row per erased customer, written first in the erasure's transaction. Its
 * transaction_id is the sanction the append-only guards honour: while the row's transaction runs, and
 * only for rows of that user, the application role may update the columns it is granted below (the
 * personal columns of the logs, nothing else); outside that transaction the guards raise as before.
 *
 * audit_erasures: one row per sealed audit row whose personal fields were erased. Its attestation is
 * HMAC(AUDIT_HMAC_KEY, 'erasure' \n row_hash \n canonical row after erasure): `audit verify` accepts a
 * sealed row whose content no longer matches its row_hash only when this attestation matches its
 * current content, so erasure is not tampering and any other change still is (docs/security.md).
 *
 * Frozen in time: this file must never import application code.
 */
const up = [
  `create table data_exports (
     tenant_id uuid not null,
     id uuid not null default corebank_uuid_v7(),
     user_id uuid not null,
     status varchar(20) not null default 'requested'
       check (status in ('requested', 'running', 'ready', 'failed', 'expired')),
     requested_at timestamptz not null default now(),
     completed_at timestamptz,
     expires_at timestamptz,
     size_bytes integer check (size_bytes >= 0),
     sha256 varchar(64) check (sha256 ~ '^[0-9a-f]{64}$'),
     archive_ciphertext text,
     archive_key_id varchar(64),
     failure_reason varchar(255),
     primary key (tenant_id, id),
     foreign key (tenant_id, user_id) references users (tenant_id, id),
     check ((status = 'ready') = (archive_ciphertext is not null)),
     check ((archive_ciphertext is null) = (archive_key_id is null)),
     check (status in ('requested', 'running') or completed_at is not null)
   )`,
  // One pending export per customer: two concurrent requests collide here.
  `create unique index idx_data_exports_pending on data_exports (tenant_id, user_id)
     where status in ('requested', 'running')`,
  'create index idx_data_exports_user on data_exports (tenant_id, user_id, requested_at desc)',
  `create index idx_data_exports_queue on data_exports (tenant_id, requested_at)
     where status = 'requested'`,
  `select corebank_protect_tenant_table('data_exports', 'crud')`,
  `select corebank_protect_user_rows('data_exports', 'user_id')`,

  `create table user_erasures (
     tenant_id uuid not null,
     id uuid not null default corebank_uuid_v7(),
     user_id uuid not null,
     requested_by varchar(20) not null check (requested_by in ('customer', 'staff')),
     admin_id uuid,
     transaction_id bigint not null default txid_current(),
     erased_at timestamptz not null default now(),
     primary key (tenant_id, id),
     unique (tenant_id, user_id),
     foreign key (tenant_id, user_id) references users (tenant_id, id),
     check ((requested_by = 'staff') = (admin_id is not null))
   )`,
  `select corebank_protect_tenant_table('user_erasures', 'append')`,

  `create table audit_erasures (
     tenant_id uuid not null,
     audit_log_id uuid not null,
     erasure_id uuid not null,
     row_hash varchar(64) not null,
     attestation varchar(64) not null check (attestation ~ '^[0-9a-f]{64}$'),
     signing_key_id varchar(64) not null,
     erased_at timestamptz not null default now(),
     primary key (tenant_id, audit_log_id),
     foreign key (tenant_id, erasure_id) references user_erasures (tenant_id, id)
   )`,
  `select corebank_protect_tenant_table('audit_erasures', 'append')`,
  'grant select on audit_erasures to corebank_sealer',

  /*
   * True only inside the transaction that recorded an erasure (user_erasures above), for a row of the
   * erased user or a row attributed to no one (the anonymous steps of a login: their addresses and
   * user agents are the customer's too). Never for another user's row.
   */
  // Security definer: the guards run as whichever role writes (the sealer too), user_erasures is read
  // whatever that role may see; it answers one boolean about the transaction's own tenant.
  `create function corebank_erasing(row_user text) returns boolean language sql stable
   security definer set search_path = public as $$
     select exists (
       select 1 from user_erasures e
       where e.tenant_id = corebank_current_tenant() and e.transaction_id = txid_current()
         and (row_user is null or e.user_id::text = row_user))
   $$`,

  `create or replace function corebank_forbid_change() returns trigger language plpgsql as $$
   begin
     if corebank_in_maintenance() then
       return case when tg_op = 'DELETE' then old else new end;
     end if;
     if tg_op = 'UPDATE' and tg_level = 'ROW' then
       if corebank_erasing(to_jsonb(old) ->> 'user_id') then
         return new;
       end if;
     end if;
     raise exception '% is append-only: % is not allowed', tg_table_name, tg_op
       using errcode = 'insufficient_privilege';
   end $$`,

  `create or replace function corebank_audit_guard() returns trigger language plpgsql as $$
   declare
     seal_columns text[] := array['chain_sequence', 'previous_hash', 'row_hash', 'signature',
                                  'signing_key_id', 'sealed_at'];
     personal_columns text[] := array['ip_address', 'user_agent', 'device_fingerprint', 'location',
                                      'old_values', 'new_values', 'details'];
   begin
     if tg_op = 'UPDATE' and old.row_hash is null and new.row_hash is not null
        and (to_jsonb(new) - seal_columns) = (to_jsonb(old) - seal_columns) then
       return new;
     end if;
     -- Erasure: only the personal columns of the erased user's rows, never the seal.
     if tg_op = 'UPDATE'
        and corebank_erasing(coalesce(old.user_id::text,
                                      case when old.entity_type = 'user' then old.entity_id end))
        and (to_jsonb(new) - personal_columns) = (to_jsonb(old) - personal_columns) then
       return new;
     end if;
     if corebank_in_maintenance() then
       return case when tg_op = 'DELETE' then old else new end;
     end if;
     raise exception 'audit_logs is append-only: % is not allowed', tg_op
       using errcode = 'insufficient_privilege';
   end $$`,
  // Column privileges bound what the erasure can touch in the append-only logs.
  `grant update (ip_address, user_agent, device_fingerprint, location, old_values, new_values, details)
     on audit_logs to corebank_app`,
  'grant update (ip_address, user_agent, device_info) on login_audits to corebank_app',
  'grant update (device_info, ip_address, user_agent, details) on session_logs to corebank_app',
  'grant update (request_headers, ip_address, user_agent) on api_access_log to corebank_app',
];

const down = [
  'revoke update (request_headers, ip_address, user_agent) on api_access_log from corebank_app',
  'revoke update (device_info, ip_address, user_agent, details) on session_logs from corebank_app',
  'revoke update (ip_address, user_agent, device_info) on login_audits from corebank_app',
  `revoke update (ip_address, user_agent, device_fingerprint, location, old_values, new_values, details)
     on audit_logs from corebank_app`,
  `create or replace function corebank_audit_guard() returns trigger language plpgsql as $$
   declare
     seal_columns text[] := array['chain_sequence', 'previous_hash', 'row_hash', 'signature',
                                  'signing_key_id', 'sealed_at'];
   begin
     if tg_op = 'UPDATE' and old.row_hash is null and new.row_hash is not null
        and (to_jsonb(new) - seal_columns) = (to_jsonb(old) - seal_columns) then
       return new;
     end if;
     if corebank_in_maintenance() then
       return case when tg_op = 'DELETE' then old else new end;
     end if;
     raise exception 'audit_logs is append-only: % is not allowed', tg_op
       using errcode = 'insufficient_privilege';
   end $$`,
  `create or replace function corebank_forbid_change() returns trigger language plpgsql as $$
   begin
     if corebank_in_maintenance() then
       return case when tg_op = 'DELETE' then old else new end;
     end if;
     raise exception '% is append-only: % is not allowed', tg_table_name, tg_op
       using errcode = 'insufficient_privilege';
   end $$`,
  'drop function if exists corebank_erasing(text)',
  'drop table if exists audit_erasures',
  'drop table if exists user_erasures',
  'drop table if exists data_exports',
];

export const migration = statementMigration(up, down);
