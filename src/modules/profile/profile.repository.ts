import type { DatabaseHandle } from '../../db/database.ts';
import { readInScope, type Scope, type ScopedTransaction } from '../../db/tenant-transaction.ts';

/** The user with their profile row (tags, metadata), in one round trip (readInScope). */
export async function findUserProfile(database: DatabaseHandle, scope: Scope, userId: string) {
  const query = database.db
    .selectFrom('users as u')
    .leftJoin('user_profiles as p', (join) =>
      join.onRef('p.tenant_id', '=', 'u.tenant_id').onRef('p.user_id', '=', 'u.id'),
    )
    .select([
      'u.id',
      'u.tenant_id',
      'u.role',
      'u.name',
      'u.email',
      'u.phone',
      'u.avatar',
      'u.status',
      'u.kyc_tier',
      'u.is_verified',
      'u.mfa_enabled',
      'u.last_login_at',
      'u.created_at',
      'p.tags',
      'p.metadata',
    ])
    .where('u.tenant_id', '=', scope.tenantId)
    .where('u.id', '=', userId)
    .compile();
  const [user] = await readInScope(database, scope, query);
  return user;
}

/** The fields a profile update may change, read under the user's row lock for the audit's old values. */
export async function lockProfileForUpdate(transaction: ScopedTransaction, tenantId: string, userId: string) {
  return transaction
    .selectFrom('users as u')
    .leftJoin('user_profiles as p', (join) =>
      join.onRef('p.tenant_id', '=', 'u.tenant_id').onRef('p.user_id', '=', 'u.id'),
    )
    .select(['u.name', 'u.avatar', 'p.tags', 'p.metadata', 'p.id as profile_id'])
    .where('u.tenant_id', '=', tenantId)
    .where('u.id', '=', userId)
    .forUpdate('u')
    .executeTakeFirstOrThrow();
}

export async function updateUserNameAndAvatar(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  changes: { name?: string; avatar?: string | null },
): Promise<void> {
  await transaction
    .updateTable('users')
    .set(changes)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId)
    .execute();
}

/** Writes the profile row's tags and metadata: updates the row, or creates it on the first change. */
export async function saveProfileDetails(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  profileId: string | null,
  details: { tags: string[]; metadataJson: string },
): Promise<void> {
  if (profileId) {
    await transaction
      .updateTable('user_profiles')
      .set({ tags: details.tags, metadata: details.metadataJson })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', profileId)
      .execute();
    return;
  }
  await transaction
    .insertInto('user_profiles')
    .values({ tenant_id: tenantId, user_id: userId, tags: details.tags, metadata: details.metadataJson })
    .execute();
}
