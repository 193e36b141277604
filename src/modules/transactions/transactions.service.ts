import type { DatabaseHandle } from '../../db/database.ts';
import { withScope } from '../../db/tenant-transaction.ts';
import type { Caller, Principal } from '../../platform/auth/principal.ts';
import { requireTenantUser } from '../staff/staff-users.repository.ts';
import { readOwnStatement, readStatement, type StatementPage } from './transactions.repository.ts';
import type { StatementQuery } from './transactions.schemas.ts';

/** GET /v1/transactions: the caller's own statement, read with the session check in one round trip. */
export async function readCallerStatement(
  database: DatabaseHandle,
  caller: Caller,
  query: StatementQuery,
): Promise<StatementPage> {
  return readOwnStatement(database, caller.scope, query);
}

/** Staff: a user's statement; an id that is no user of the tenant is NOT_FOUND, not an empty page. */
export async function readCustomerStatement(
  database: DatabaseHandle,
  principal: Principal,
  userId: string,
  query: StatementQuery,
): Promise<StatementPage> {
  return withScope(database.db, { tenantId: principal.tenantId }, async (transaction) => {
    await requireTenantUser(transaction, principal.tenantId, userId);
    return readStatement(transaction, principal.tenantId, userId, query);
  });
}
