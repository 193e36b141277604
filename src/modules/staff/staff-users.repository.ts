import { sql } from 'kysely';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { AppError } from '../../platform/errors.ts';

/**
 * Routes that read a sub-collection of a user (`/v1/admin/users/:id/transactions`, `…/holds`) call
 * this first: a user id that does not exist in the tenant is 404 NOT_FOUND, not an empty list that
 * looks like a real user with nothing yet (issue 7 item 12). Row-level security scopes the lookup to
 * the transaction's tenant as well as the filter does.
 */
export async function requireTenantUser(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
): Promise<void> {
  const row = await transaction
    .selectFrom('users')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId)
    .executeTakeFirst();
  if (!row) throw new AppError('NOT_FOUND', 'No user with this id.');
}

/**
 * Staff actions on a customer (a hold, a top-up) call this first: an id that is not a live customer of
 * the tenant — nobody, a staff member, another tenant's user, a deactivated (deleted) customer — is 404
 * NOT_FOUND, the same answer for each, before any other rule can answer something else by accident
 * (issue 7 follow-up: a hold for a staff member's id answered INSUFFICIENT_FUNDS). The row is locked
 * so it cannot be deactivated while the action commits.
 */
export async function requireCustomer(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
): Promise<void> {
  const row = await transaction
    .selectFrom('users')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId)
    .where('role', '=', 'customer')
    .where('deleted_at', 'is', null)
    .forShare()
    .executeTakeFirst();
  if (!row) throw new AppError('NOT_FOUND', 'No customer with this id.');
}

/**
 * Locks a user's row for the rest of the transaction. A customer's own changes that must not race
 * each other (a KYC submission, a change to their bank accounts) take it first and so serialize.
 */
export async function lockUserRow(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
): Promise<void> {
  await sql`select id from users where tenant_id = ${tenantId} and id = ${userId} for update`.execute(
    transaction,
  );
}
