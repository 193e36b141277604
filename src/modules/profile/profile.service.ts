import type { DatabaseHandle } from '../../db/database.ts';
import { withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import { type Caller, callerOf, type Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { scopeOf } from '../sessions/sessions.service.ts';
import {
  findUserProfile,
  lockProfileForUpdate,
  saveProfileDetails,
  updateUserNameAndAvatar,
} from './profile.repository.ts';

/**
 * The caller's own profile (seed 001). Only name, avatar, tags and metadata can change: balance,
 * role, status, tenant, permissions and KYC tier are not part of the update type at all, and the
 * route schema rejects any other field before it reaches here.
 */
export interface Profile {
  id: string;
  tenant_id: string;
  role: string;
  name: string;
  email: string | null;
  phone: string | null;
  avatar: string | null;
  status: number;
  kyc_tier: number;
  is_verified: boolean;
  mfa_enabled: boolean;
  permissions: string[];
  tags: string[];
  metadata: Record<string, unknown>;
  last_login_at: string | null;
  created_at: string;
}

export interface ProfileUpdate {
  name?: string | undefined;
  avatar?: string | null | undefined;
  tags?: string[] | undefined;
  metadata?: Record<string, unknown> | undefined;
}

export async function readProfile(database: DatabaseHandle, caller: Caller): Promise<Profile> {
  const user = await findUserProfile(database, caller.scope, caller.scope.userId);
  if (!user) throw new AppError('NOT_FOUND');
  return {
    ...user,
    permissions: [...caller.principal().permissions].sort(),
    tags: user.tags ?? [],
    metadata: user.metadata ?? {},
    last_login_at: user.last_login_at?.toISOString() ?? null,
    created_at: user.created_at.toISOString(),
  };
}

export async function updateProfile(
  database: DatabaseHandle,
  principal: Principal,
  context: AuditContext,
  update: ProfileUpdate,
): Promise<Profile> {
  await withScope(database.db, scopeOf(principal), async (transaction) => {
    const { tenantId, userId } = principal;
    const before = await lockProfileForUpdate(transaction, tenantId, userId);
    const userChanges: { name?: string; avatar?: string | null } = {};
    if (update.name !== undefined) userChanges.name = update.name;
    if (update.avatar !== undefined) userChanges.avatar = update.avatar;
    if (Object.keys(userChanges).length > 0) {
      await updateUserNameAndAvatar(transaction, tenantId, userId, userChanges);
    }
    if (update.tags !== undefined || update.metadata !== undefined) {
      await saveProfileDetails(transaction, tenantId, userId, before.profile_id, {
        tags: update.tags ?? before.tags ?? [],
        metadataJson: JSON.stringify(update.metadata ?? before.metadata ?? {}),
      });
    }
    await recordAudit(transaction, context, {
      entityType: 'user',
      entityId: principal.userId,
      action: 'UPDATE_PROFILE',
      oldValues: { name: before.name, avatar: before.avatar, tags: before.tags, metadata: before.metadata },
      newValues: { ...update },
    });
  });
  return readProfile(database, callerOf({ principal }));
}
