import { sql } from 'kysely';
import type { Config } from '../../config/config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import type { LogoutReason } from '../../db/schema.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import { staffRoles } from '../../platform/auth/permissions.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { decodeIdCursor, encodeIdCursor } from '../../platform/pagination.ts';
import { endSessions } from '../sessions/sessions.service.ts';

/**
 * Staff user management: list and search with keyset pagination, view, block / unblock, deactivate
 * (soft delete), force logout, reset MFA, unlock. Every change is audited in its transaction. Acting
 * on another staff member needs staff:manage, and nobody blocks, deactivates or resets themselves.
 */
export interface StaffServices {
  config: Config;
  database: DatabaseHandle;
}

export interface UserListQuery {
  q?: string | undefined;
  role?: string | undefined;
  status?: number | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface UserListItem {
  id: string;
  role: string;
  name: string;
  email: string | null;
  phone: string | null;
  status: number;
  kyc_tier: number;
  mfa_enabled: boolean;
  locked: boolean;
  last_login_at: string | null;
  created_at: string;
  deleted_at: string | null;
}

export interface UserDetail extends UserListItem {
  failed_login_attempts: number;
  lockout_count: number;
  locked_until: string | null;
  trust_score: number;
  permissions: string[];
  active_sessions: number;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

const listColumns = [
  'id',
  'role',
  'name',
  'email',
  'phone',
  'status',
  'kyc_tier',
  'mfa_enabled',
  'locked_until',
  'last_login_at',
  'created_at',
  'deleted_at',
] as const;

interface ListRow {
  id: string;
  role: string;
  name: string;
  email: string | null;
  phone: string | null;
  status: number;
  kyc_tier: number;
  mfa_enabled: boolean;
  locked_until: Date | null;
  last_login_at: Date | null;
  created_at: Date;
  deleted_at: Date | null;
}

function listItem(row: ListRow): UserListItem {
  return {
    id: row.id,
    role: row.role,
    name: row.name,
    email: row.email,
    phone: row.phone,
    status: row.status,
    kyc_tier: row.kyc_tier,
    mfa_enabled: row.mfa_enabled,
    locked: row.locked_until !== null && row.locked_until.getTime() > Date.now(),
    last_login_at: row.last_login_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
    deleted_at: row.deleted_at?.toISOString() ?? null,
  };
}

/** Newest first; `next_cursor` is null on the last page. */
export async function listUsers(
  services: StaffServices,
  principal: Principal,
  query: UserListQuery,
): Promise<{ users: UserListItem[]; nextCursor: string | null }> {
  const rows = await withScope(services.database.db, { tenantId: principal.tenantId }, (transaction) => {
    let select = transaction.selectFrom('users').select([...listColumns]);
    if (query.cursor) select = select.where('id', '<', decodeIdCursor(query.cursor));
    if (query.role) select = select.where('role', '=', query.role as 'customer');
    if (query.status !== undefined) select = select.where('status', '=', query.status as 1);
    if (query.q) {
      const pattern = `%${escapeLike(query.q.toLowerCase())}%`;
      select = select.where((eb) =>
        eb.or([
          eb(sql`lower(name)`, 'like', pattern),
          eb('email', 'like', pattern),
          eb('phone', 'like', pattern),
        ]),
      );
    }
    return select
      .orderBy('id', 'desc')
      .limit(query.limit + 1)
      .execute();
  });
  const page = rows.slice(0, query.limit) as ListRow[];
  const last = page.at(-1);
  return {
    users: page.map(listItem),
    nextCursor: rows.length > query.limit && last ? encodeIdCursor(last.id) : null,
  };
}

export async function viewUser(
  services: StaffServices,
  principal: Principal,
  userId: string,
): Promise<UserDetail> {
  return withScope(services.database.db, { tenantId: principal.tenantId }, async (transaction) => {
    const row = await transaction
      .selectFrom('users')
      .select([...listColumns, 'failed_login_attempts', 'lockout_count', 'trust_score', 'permissions'])
      .where('id', '=', userId)
      .executeTakeFirst();
    if (!row) throw new AppError('NOT_FOUND', 'No user with this id.');
    const sessions = await transaction
      .selectFrom('device_sessions')
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .where('user_id', '=', userId)
      .where('is_active', '=', true)
      .where('expires_at', '>', sql<Date>`now()`)
      .executeTakeFirstOrThrow();
    return {
      ...listItem(row as ListRow),
      failed_login_attempts: row.failed_login_attempts,
      lockout_count: row.lockout_count,
      locked_until: row.locked_until?.toISOString() ?? null,
      trust_score: Number(row.trust_score),
      permissions: row.permissions,
      active_sessions: Number(sessions.count),
    };
  });
}

export type StaffAction = 'block' | 'unblock' | 'deactivate' | 'force_logout' | 'reset_mfa' | 'unlock';

interface TargetRow {
  id: string;
  role: string;
  status: number;
  mfa_enabled: boolean;
  locked_until: Date | null;
  failed_login_attempts: number;
  deleted_at: Date | null;
}

async function loadTarget(
  transaction: ScopedTransaction,
  principal: Principal,
  userId: string,
  action: StaffAction,
): Promise<TargetRow> {
  const target = (await transaction
    .selectFrom('users')
    .select(['id', 'role', 'status', 'mfa_enabled', 'locked_until', 'failed_login_attempts', 'deleted_at'])
    .where('id', '=', userId)
    .forUpdate()
    .executeTakeFirst()) as TargetRow | undefined;
  // A deactivated user is gone for every action (deactivation is final): 404 like an unknown id.
  if (!target || target.deleted_at !== null) throw new AppError('NOT_FOUND', 'No user with this id.');
  if (target.id === principal.userId && action !== 'force_logout') {
    throw new AppError('FORBIDDEN', 'Staff cannot do this to their own account.');
  }
  if (staffRoles.includes(target.role as 'admin') && !principal.permissions.has('staff:manage')) {
    throw new AppError('FORBIDDEN', 'Acting on a staff account needs staff:manage.');
  }
  return target;
}

async function endAll(
  transaction: ScopedTransaction,
  context: AuditContext,
  tenantId: string,
  userId: string,
  reason: LogoutReason,
) {
  return endSessions(transaction, { tenantId, userId, reason, context });
}

/** One staff action on one user, with its audit row (old and new values) in the same transaction. */
export async function applyStaffAction(
  services: StaffServices,
  principal: Principal,
  context: AuditContext,
  userId: string,
  action: StaffAction,
): Promise<UserDetail> {
  await withScope(services.database.db, { tenantId: principal.tenantId }, async (transaction) => {
    const target = await loadTarget(transaction, principal, userId, action);
    const users = transaction.updateTable('users').where('id', '=', userId);
    let oldValues: Record<string, unknown> = {};
    let newValues: Record<string, unknown> = {};
    let sessionsEnded = 0;
    switch (action) {
      case 'block':
      case 'unblock': {
        const status = action === 'block' ? 2 : 1;
        if (target.status === 0) throw new AppError('CONFLICT', 'The account is deactivated.');
        await users.set({ status }).execute();
        oldValues = { status: target.status };
        newValues = { status };
        break;
      }
      case 'deactivate': {
        await users.set({ status: 0, deleted_at: sql<Date>`coalesce(deleted_at, now())` }).execute();
        sessionsEnded = (await endAll(transaction, context, principal.tenantId, userId, 'forced')).length;
        oldValues = { status: target.status, deleted_at: target.deleted_at };
        newValues = { status: 0, deleted: true };
        break;
      }
      case 'force_logout':
        sessionsEnded = (await endAll(transaction, context, principal.tenantId, userId, 'forced')).length;
        break;
      case 'reset_mfa': {
        await users
          .set({
            mfa_enabled: false,
            mfa_secret_ciphertext: null,
            mfa_secret_key_id: null,
            totp_last_used_step: null,
          })
          .execute();
        await transaction.deleteFrom('mfa_backup_codes').where('user_id', '=', userId).execute();
        await transaction.deleteFrom('trusted_devices').where('user_id', '=', userId).execute();
        sessionsEnded = (await endAll(transaction, context, principal.tenantId, userId, 'forced')).length;
        oldValues = { mfa_enabled: target.mfa_enabled };
        newValues = { mfa_enabled: false };
        break;
      }
      case 'unlock':
        await users.set({ locked_until: null, failed_login_attempts: 0 }).execute();
        oldValues = {
          locked_until: target.locked_until,
          failed_login_attempts: target.failed_login_attempts,
        };
        newValues = { locked_until: null, failed_login_attempts: 0 };
        break;
    }
    await recordAudit(transaction, context, {
      entityType: 'user',
      entityId: userId,
      action: action.toUpperCase(),
      eventType: 'ADMIN_ACTION',
      oldValues,
      newValues: { ...newValues, sessions_ended: sessionsEnded },
    });
  });
  return viewUser(services, principal, userId);
}
