import { statementMigration } from './run-statements.ts';

/**
 * Security controls (issue 7): the counters behind send limits and login failure limits, the
 * authentication check of every request now also reading the tenant's status, and maker–checker
 * approvals of large staff top-ups.
 *
 * Frozen in time: this file must never import application code.
 */
/**
 * corebank_authenticate_session as 0006 created it, and (withTenantStatus) as this migration replaces
 * it: the same body, plus the tenant's status as the last output column.
 */
function authenticateSessionFunction(withTenantStatus: boolean): string {
  const tenantColumn = withTenantStatus ? ', r_tenant_status varchar' : '';
  const tenantValue = withTenantStatus ? ', t.status' : '';
  const tenantJoin = withTenantStatus ? 'join tenants t on t.id = s.tenant_id' : '';
  return `create function corebank_authenticate_session(
     p_tenant uuid, p_session uuid, p_idle_seconds integer, p_touch_seconds integer)
   returns table (
     r_user_id uuid, r_is_active boolean, r_expires_at timestamptz, r_absolute_expires_at timestamptz,
     r_mfa_verified boolean, r_role varchar, r_status smallint, r_permissions varchar[],
     r_deleted_at timestamptz${tenantColumn})
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
              u.role, u.status, u.permissions, u.deleted_at${tenantValue}
         from device_sessions s
         join users u on u.tenant_id = s.tenant_id and u.id = s.user_id
         ${tenantJoin}
        where s.tenant_id = p_tenant and s.id = p_session;
   end $$`;
}

const up = [
  /*
   * One row per (tenant, scope, subject): the count of its current window. A window opens with the
   * subject's first unit and lasts a fixed time; the first unit after it ends opens the next one. A
   * limit is decided by one conditional upsert (`insert … on conflict … do update … where the window
   * ended or count < limit returning …`): the row lock it takes makes the decision atomic across
   * connections and server processes, so a burst gets no more than the limit, and a burst never
   * straddles two windows at a wall-clock boundary. The subject is a keyed hash (a phone number, an
   * email address, a client address), never the raw value.
   */
  `create table security_counters (
     tenant_id uuid not null references tenants (id) on delete cascade,
     scope varchar(50) not null check (scope ~ '^[a-z][a-z_]{0,49}$'),
     subject_hash char(64) not null check (subject_hash ~ '^[0-9a-f]{64}$'),
     window_started_at timestamptz not null,
     window_ends_at timestamptz not null,
     count integer not null check (count >= 0),
     primary key (tenant_id, scope, subject_hash),
     check (window_ends_at > window_started_at)
   )`,
  // The cleanup job deletes windows that have ended.
  'create index idx_security_counters_window_ends on security_counters (tenant_id, window_ends_at)',
  `select corebank_protect_tenant_table('security_counters', 'crud')`,

  /*
   * A staff top-up above the configured amount waits here for a second staff member (maker–checker).
   * The checks make the life cycle explicit: pending has no decision; an approval names its checker
   * and the movement it posted; a rejection names its checker and a reason; the checker is never the
   * maker.
   */
  `create table topup_approvals (
     tenant_id uuid not null,
     id uuid not null default corebank_uuid_v7(),
     beneficiary_id uuid not null,
     asset_code varchar(16) not null references assets (code),
     amount bigint not null check (amount > 0 and amount <= 9007199254740991),
     description varchar(500),
     status varchar(20) not null default 'pending' check (status in ('pending', 'approved', 'rejected')),
     maker_id uuid not null,
     checker_id uuid,
     rejection_reason varchar(500),
     transaction_id uuid,
     decided_at timestamptz,
     created_at timestamptz not null default now(),
     updated_at timestamptz not null default now(),
     primary key (tenant_id, id),
     foreign key (tenant_id, beneficiary_id) references users (tenant_id, id),
     foreign key (tenant_id, maker_id) references users (tenant_id, id),
     foreign key (tenant_id, checker_id) references users (tenant_id, id),
     check (checker_id is null or checker_id <> maker_id),
     check ((status = 'pending') = (checker_id is null and decided_at is null)),
     check ((status = 'approved') = (transaction_id is not null)),
     check ((status = 'rejected') = (rejection_reason is not null))
   )`,
  'create index idx_topup_approvals_status on topup_approvals (tenant_id, status, id)',
  `select corebank_protect_tenant_table('topup_approvals', 'crud')`,
  `select corebank_add_updated_at_trigger('topup_approvals')`,

  /*
   * The per-request authentication check (0006) now also returns the tenant's status, so a suspended
   * tenant's tokens stop at the guard without another round trip. The result type changes, so the
   * function is dropped and created again (in the migration's transaction: no request sees it missing).
   */
  'drop function if exists corebank_authenticate_session(uuid, uuid, integer, integer)',
  authenticateSessionFunction(true),
];

const down = [
  'drop function if exists corebank_authenticate_session(uuid, uuid, integer, integer)',
  // The 0006 version, so a rollback leaves the guard working.
  authenticateSessionFunction(false),
  'drop table if exists topup_approvals',
  'drop table if exists security_counters',
];

export const migration = statementMigration(up, down);
