import { sql } from 'kysely';
import type { RoleName, UserStatus } from '../../db/schema.ts';
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

export interface UserFilter {
  /** Matched against the name (case-insensitive), email and phone. */
  q?: string | undefined;
  role?: RoleName | undefined;
  status?: UserStatus | undefined;
  limit: number;
  beforeId?: string | undefined;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

/** The tenant's users newest first by id (time-ordered), `limit + 1` rows for keyset pagination. */
export async function listTenantUsers(transaction: ScopedTransaction, tenantId: string, filter: UserFilter) {
  let select = transaction.selectFrom('users').select(listColumns).where('tenant_id', '=', tenantId);
  if (filter.beforeId) select = select.where('id', '<', filter.beforeId);
  if (filter.role) select = select.where('role', '=', filter.role);
  if (filter.status !== undefined) select = select.where('status', '=', filter.status);
  if (filter.q) {
    const pattern = `%${escapeLike(filter.q.toLowerCase())}%`;
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
    .limit(filter.limit + 1)
    .execute();
}

export async function findUserDetail(transaction: ScopedTransaction, tenantId: string, userId: string) {
  return transaction
    .selectFrom('users')
    .select([...listColumns, 'failed_login_attempts', 'lockout_count', 'trust_score', 'permissions'])
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId)
    .executeTakeFirst();
}

/** Sessions of the user that are active and not yet expired. */
export async function countActiveSessions(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
): Promise<number> {
  const row = await transaction
    .selectFrom('device_sessions')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('is_active', '=', true)
    .where('expires_at', '>', sql<Date>`now()`)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** The user a staff action is about, locked until the action and its audit row commit. */
export async function lockActionTarget(transaction: ScopedTransaction, tenantId: string, userId: string) {
  return transaction
    .selectFrom('users')
    .select(['id', 'role', 'status', 'mfa_enabled', 'locked_until', 'failed_login_attempts', 'deleted_at'])
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId)
    .forUpdate()
    .executeTakeFirst();
}

function updateUser(transaction: ScopedTransaction, tenantId: string, userId: string) {
  return transaction.updateTable('users').where('tenant_id', '=', tenantId).where('id', '=', userId);
}

export async function setUserStatus(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  status: UserStatus,
): Promise<void> {
  await updateUser(transaction, tenantId, userId).set({ status }).execute();
}

/** Soft delete: status 0 and deleted_at, kept from the first deactivation if there was one. */
export async function deactivateUser(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
): Promise<void> {
  await updateUser(transaction, tenantId, userId)
    .set({ status: 0, deleted_at: sql<Date>`coalesce(deleted_at, now())` })
    .execute();
}

/** Removes the user's second factor: the TOTP secret, the backup codes and the trusted devices. */
export async function removeUserMfa(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
): Promise<void> {
  await updateUser(transaction, tenantId, userId)
    .set({
      mfa_enabled: false,
      mfa_secret_ciphertext: null,
      mfa_secret_key_id: null,
      totp_last_used_step: null,
    })
    .execute();
  await transaction
    .deleteFrom('mfa_backup_codes')
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .execute();
  await transaction
    .deleteFrom('trusted_devices')
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .execute();
}

export async function unlockUser(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
): Promise<void> {
  await updateUser(transaction, tenantId, userId)
    .set({ locked_until: null, failed_login_attempts: 0 })
    .execute();
}
