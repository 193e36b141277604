import type { Config } from '../../config/config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import type { LogoutReason, RoleName, UserStatus } from '../../db/schema.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import { staffRoles } from '../../platform/auth/permissions.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { decodeIdCursor, encodeIdCursor } from '../../platform/pagination.ts';
import { endSessions } from '../sessions/sessions.service.ts';
import {
  countActiveSessions,
  deactivateUser,
  findUserDetail,
  listTenantUsers,
  lockActionTarget,
  removeUserMfa,
  setUserStatus,
  unlockUser,
} from './staff-users.repository.ts';

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
  role?: RoleName | undefined;
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

type ListRow = Awaited<ReturnType<typeof listTenantUsers>>[number];

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
  const filter = {
    q: query.q,
    role: query.role,
    // The route's schema bounds the status to 0…2, the column's values.
    status: query.status as UserStatus | undefined,
    limit: query.limit,
    beforeId: query.cursor ? decodeIdCursor(query.cursor) : undefined,
  };
  const rows = await withScope(services.database.db, { tenantId: principal.tenantId }, (transaction) =>
    listTenantUsers(transaction, principal.tenantId, filter),
  );
  const page = rows.slice(0, query.limit);
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
    const row = await findUserDetail(transaction, principal.tenantId, userId);
    if (!row) throw new AppError('NOT_FOUND', 'No user with this id.');
    const activeSessions = await countActiveSessions(transaction, principal.tenantId, userId);
    return {
      ...listItem(row),
      failed_login_attempts: row.failed_login_attempts,
      lockout_count: row.lockout_count,
      locked_until: row.locked_until?.toISOString() ?? null,
      trust_score: Number(row.trust_score),
      permissions: row.permissions,
      active_sessions: activeSessions,
    };
  });
}

export type StaffAction = 'block' | 'unblock' | 'deactivate' | 'force_logout' | 'reset_mfa' | 'unlock';

type TargetRow = NonNullable<Awaited<ReturnType<typeof lockActionTarget>>>;

async function loadTarget(
  transaction: ScopedTransaction,
  principal: Principal,
  userId: string,
  action: StaffAction,
): Promise<TargetRow> {
  const target = await lockActionTarget(transaction, principal.tenantId, userId);
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
    const tenantId = principal.tenantId;
    let oldValues: Record<string, unknown> = {};
    let newValues: Record<string, unknown> = {};
    let sessionsEnded = 0;
    switch (action) {
      case 'block':
      case 'unblock': {
        const status = action === 'block' ? 2 : 1;
        if (target.status === 0) throw new AppError('CONFLICT', 'The account is deactivated.');
        await setUserStatus(transaction, tenantId, userId, status);
        oldValues = { status: target.status };
        newValues = { status };
        break;
      }
      case 'deactivate': {
        await deactivateUser(transaction, tenantId, userId);
        sessionsEnded = (await endAll(transaction, context, tenantId, userId, 'forced')).length;
        oldValues = { status: target.status, deleted_at: target.deleted_at };
        newValues = { status: 0, deleted: true };
        break;
      }
      case 'force_logout':
        sessionsEnded = (await endAll(transaction, context, tenantId, userId, 'forced')).length;
        break;
      case 'reset_mfa': {
        await removeUserMfa(transaction, tenantId, userId);
        sessionsEnded = (await endAll(transaction, context, tenantId, userId, 'forced')).length;
        oldValues = { mfa_enabled: target.mfa_enabled };
        newValues = { mfa_enabled: false };
        break;
      }
      case 'unlock':
        await unlockUser(transaction, tenantId, userId);
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
