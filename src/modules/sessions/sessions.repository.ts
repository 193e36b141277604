import { sql } from 'kysely';
import type { DatabaseHandle } from '../../db/database.ts';
import { readInScope, type Scope } from '../../db/tenant-transaction.ts';

/** A user's active, unexpired sessions, newest first (at most 100), in one round trip (readInScope). */
export async function listActiveSessions(database: DatabaseHandle, scope: Scope, userId: string) {
  const query = database.db
    .selectFrom('device_sessions')
    .select([
      'id',
      'device_type',
      'device_id',
      'device_name',
      'provider',
      'ip_address',
      'user_agent',
      'mfa_verified',
      'created_at',
      'last_activity_at',
      'expires_at',
      'absolute_expires_at',
    ])
    .where('tenant_id', '=', scope.tenantId)
    .where('user_id', '=', userId)
    .where('is_active', '=', true)
    .where('expires_at', '>', sql<Date>`now()`)
    .orderBy('id', 'desc')
    .limit(100)
    .compile();
  return readInScope(database, scope, query);
}
