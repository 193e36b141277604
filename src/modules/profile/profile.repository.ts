import type { DatabaseHandle } from '../../db/database.ts';
import { readInScope, type Scope } from '../../db/tenant-transaction.ts';

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
