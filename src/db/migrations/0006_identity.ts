import { statementMigration } from './run-statements.ts';

/**
 * Identity, second part: single-use verification tokens (seed 001 email verification and password
 * reset), TOTP replay protection and the request origin of an OTP session. The role → permission
 * rows of seed 003 are not written here: the catalog lives in src/platform/auth/permissions.ts and
 * syncRolePermissions mirrors it into role_permissions at every start and seed.
 *
 * Frozen in time: this file must never import application code.
 */
const up = [
  `create table verification_tokens (
     tenant_id uuid not null,
     id uuid not null default corebank_uuid_v7(),
     user_id uuid not null,
     purpose varchar(30) not null check (purpose in ('email_verification', 'password_reset')),
     token_hash varchar(255) not null,
     expires_at timestamptz not null,
     used_at timestamptz,
     created_at timestamptz not null default now(),
     primary key (tenant_id, id),
     unique (tenant_id, token_hash),
     foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
   )`,
  'create index idx_verification_tokens_user on verification_tokens (tenant_id, user_id, purpose)',
  'create index idx_verification_tokens_expires on verification_tokens (expires_at)',
  `select corebank_protect_tenant_table('verification_tokens', 'crud')`,

  // RFC 6238 section 5.2: a verifier must not accept a second use of a code; the last accepted time
  // step is remembered and only later steps pass.
  'alter table users add column totp_last_used_step bigint check (totp_last_used_step >= 0)',

  // Every login attempt counts the recent failures of its IP address (and an unknown email its own),
  // so those counts must not scan the successful logins: partial indexes on the failures only.
  `create index idx_login_audits_failed_ip on login_audits (tenant_id, ip_address, created_at desc)
     where status = 'failed'`,
  `create index idx_login_audits_failed_identifier on login_audits
     (tenant_id, (device_info ->> 'identifier'), created_at desc)
     where status = 'failed' and user_id is null and admin_id is null`,

  'alter table otp_sessions add column ip_address inet',
  'alter table otp_sessions add column user_agent text',

  /*
   * The authentication check of every request in one statement (one round trip): it sets the same
   * scope withScope sets (tenant, no user, role corebank_app, all transaction-local, so they end with
   * the statement's implicit transaction), slides the idle expiry of an active session at most every
   * touch_seconds, and returns the session and its user. Security invoker: row-level security applies.
   */
  `create or replace function corebank_authenticate_session(
     p_tenant uuid, p_session uuid, p_idle_seconds integer, p_touch_seconds integer)
   returns table (
     r_user_id uuid, r_is_active boolean, r_expires_at timestamptz, r_absolute_expires_at timestamptz,
     r_mfa_verified boolean, r_role varchar, r_status smallint, r_permissions varchar[], r_deleted_at timestamptz)
   language plpgsql volatile as $$
   declare
     last_activity timestamptz;
   begin
     perform set_config('app.tenant_id', p_tenant::text, true);
     perform set_config('app.user_id', '', true);
     perform set_config('role', 'corebank_app', true);
     -- Most requests find a recently touched session: read first, write only when the touch is due.
     select s.last_activity_at into last_activity
       from device_sessions s
      where s.tenant_id = p_tenant and s.id = p_session and s.is_active and s.expires_at > now();
     if last_activity < now() - make_interval(secs => p_touch_seconds) then
       update device_sessions s
          set last_activity_at = now(),
              expires_at = least(now() + make_interval(secs => p_idle_seconds), s.absolute_expires_at)
        where s.tenant_id = p_tenant and s.id = p_session and s.is_active and s.expires_at > now();
     end if;
     return query
       select s.user_id, s.is_active, s.expires_at, s.absolute_expires_at, s.mfa_verified,
              u.role, u.status, u.permissions, u.deleted_at
         from device_sessions s
         join users u on u.tenant_id = s.tenant_id and u.id = s.user_id
        where s.tenant_id = p_tenant and s.id = p_session;
   end $$`,
];

const down = [
  'drop function if exists corebank_authenticate_session(uuid, uuid, integer, integer)',
  'drop index if exists idx_login_audits_failed_identifier',
  'drop index if exists idx_login_audits_failed_ip',
  'alter table otp_sessions drop column if exists user_agent',
  'alter table otp_sessions drop column if exists ip_address',
  'alter table users drop column if exists totp_last_used_step',
  'drop table if exists verification_tokens',
];

export const migration = statementMigration(up, down);
