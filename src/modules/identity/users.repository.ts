import { sql } from 'kysely';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { staffRoles } from '../../platform/auth/permissions.ts';

/**
 * The queries on users and their credentials for email accounts and password logins (seeds 000–003):
 * lookups by email, passwords, verification links. Every function runs in the caller's scoped
 * transaction, which names the tenant.
 */

/** A customer (or, with `staff`, a staff member) by email, with everything the password login decides on. */
export async function findLoginUserByEmail(transaction: ScopedTransaction, email: string, staff: boolean) {
  return transaction
    .selectFrom('users')
    .select([
      'id',
      'tenant_id',
      'role',
      'name',
      'phone',
      'email',
      'status',
      'kyc_tier',
      'password_hash',
      'email_verified_at',
      'password_expires_at',
      'deleted_at',
      'failed_login_attempts',
      'lockout_count',
      'locked_until',
      'mfa_enabled',
      'mfa_secret_ciphertext',
      'mfa_secret_key_id',
      'totp_last_used_step',
    ])
    .where('email', '=', email)
    .where('role', staff ? 'in' : '=', staff ? [...staffRoles] : 'customer')
    .executeTakeFirst();
}

/** Replaces a legacy password hash with its upgrade after a successful login. */
export async function upgradePasswordHash(
  transaction: ScopedTransaction,
  userId: string,
  passwordHash: string,
): Promise<void> {
  await transaction
    .updateTable('users')
    .set({ password_hash: passwordHash, password_changed_at: sql<Date>`now()` })
    .where('id', '=', userId)
    .execute();
}

export async function emailTaken(transaction: ScopedTransaction, email: string): Promise<boolean> {
  const row = await transaction
    .selectFrom('users')
    .select('id')
    .where('email', '=', email)
    .executeTakeFirst();
  return row !== undefined;
}

/** A user who has not been deleted, by email. */
export async function findLiveUserByEmail(transaction: ScopedTransaction, email: string) {
  return transaction
    .selectFrom('users')
    .select(['id', 'role'])
    .where('email', '=', email)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

export async function findUserRoleAndEmail(transaction: ScopedTransaction, userId: string) {
  return transaction
    .selectFrom('users')
    .select(['role', 'email'])
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
}

export async function findPasswordCredential(transaction: ScopedTransaction, userId: string) {
  return transaction
    .selectFrom('users')
    .select(['id', 'role', 'email', 'password_hash'])
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
}

/** The PIN credential of the signed-in user (null for staff and email accounts, who have none). */
export async function findPinCredential(transaction: ScopedTransaction, userId: string) {
  return transaction
    .selectFrom('users')
    .select(['id', 'role', 'pin_hash'])
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
}

/**
 * Replaces the PIN hash only if it is still the one the current PIN was verified against, so of two
 * concurrent changes one wins and the other finds it changed. The attempt count and any lock are left
 * as they are: a right PIN alone does not settle a login (the OTP step does). Returns whether it changed.
 */
export async function updatePin(
  transaction: ScopedTransaction,
  userId: string,
  verifiedPinHash: string,
  newPinHash: string,
): Promise<boolean> {
  const updated = await transaction
    .updateTable('users')
    .set({ pin_hash: newPinHash })
    .where('id', '=', userId)
    .where('pin_hash', '=', verifiedPinHash)
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1;
}

export async function markEmailVerified(transaction: ScopedTransaction, userId: string): Promise<void> {
  await transaction
    .updateTable('users')
    .set({ email_verified_at: sql<Date>`now()`, is_verified: true })
    .where('id', '=', userId)
    .execute();
}

/**
 * Sets a new password hash and clears the lockout; a staff password expires after `maxAgeDays`
 * (undefined for a customer, whose password does not expire).
 */
export async function updatePassword(
  transaction: ScopedTransaction,
  userId: string,
  passwordHash: string,
  maxAgeDays: number | undefined,
): Promise<void> {
  await transaction
    .updateTable('users')
    .set({
      password_hash: passwordHash,
      password_changed_at: sql<Date>`now()`,
      password_expires_at:
        maxAgeDays === undefined ? null : sql<Date>`now() + make_interval(days => ${maxAgeDays})`,
      failed_login_attempts: 0,
      locked_until: null,
    })
    .where('id', '=', userId)
    .execute();
}

export type VerificationPurpose = 'email_verification' | 'password_reset';

/** Marks the user's unused links of this purpose used (a new link replaces any earlier one). */
export async function retireVerificationTokens(
  transaction: ScopedTransaction,
  userId: string,
  purpose: VerificationPurpose,
): Promise<void> {
  await transaction
    .updateTable('verification_tokens')
    .set({ used_at: sql<Date>`now()` })
    .where('user_id', '=', userId)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .execute();
}

export interface NewVerificationToken {
  tenantId: string;
  userId: string;
  purpose: VerificationPurpose;
  tokenHash: string;
  ttlMinutes: number;
}

export async function insertVerificationToken(
  transaction: ScopedTransaction,
  token: NewVerificationToken,
): Promise<void> {
  await transaction
    .insertInto('verification_tokens')
    .values({
      tenant_id: token.tenantId,
      user_id: token.userId,
      purpose: token.purpose,
      token_hash: token.tokenHash,
      expires_at: sql<Date>`now() + make_interval(mins => ${token.ttlMinutes})`,
    })
    .execute();
}

/** Marks the unused, unexpired link with this hash used; returns its user, or undefined when none. */
export async function useVerificationToken(
  transaction: ScopedTransaction,
  tokenHash: string,
  purpose: VerificationPurpose,
): Promise<string | undefined> {
  const row = await transaction
    .updateTable('verification_tokens')
    .set({ used_at: sql<Date>`now()` })
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .returning('user_id')
    .executeTakeFirst();
  return row?.user_id;
}

/** A new customer's credentials: a PIN for a banking login (seed 000), a password for an email account. */
export type NewCustomerUser =
  | { kind: 'banking'; name: string; phone: string; motherName: string; pinHash: string }
  | { kind: 'email'; name: string; email: string; passwordHash: string };

export async function insertCustomerUser(
  transaction: ScopedTransaction,
  tenantId: string,
  user: NewCustomerUser,
): Promise<string> {
  const values =
    user.kind === 'banking'
      ? {
          tenant_id: tenantId,
          role: 'customer' as const,
          name: user.name,
          phone: user.phone,
          mother_name: user.motherName,
          pin_hash: user.pinHash,
          is_verified: true,
        }
      : {
          tenant_id: tenantId,
          role: 'customer' as const,
          email: user.email,
          name: user.name,
          password_hash: user.passwordHash,
          password_changed_at: sql<Date>`now()`,
        };
  const row = await transaction.insertInto('users').values(values).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

export async function insertUserProfile(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  tags: string[],
): Promise<void> {
  await transaction
    .insertInto('user_profiles')
    .values({ tenant_id: tenantId, user_id: userId, tags, metadata: JSON.stringify({}) })
    .execute();
}

/** The customer's primary bank account and their IDR wallet, numbered with the same account number. */
export async function insertPrimaryAccount(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  account: { accountNumber: string; accountName: string },
): Promise<void> {
  await transaction
    .insertInto('bank_accounts')
    .values({
      tenant_id: tenantId,
      user_id: userId,
      account_number: account.accountNumber,
      account_name: account.accountName,
      account_type: 'saving',
      is_primary: true,
    })
    .execute();
  await transaction
    .insertInto('wallets')
    .values({
      tenant_id: tenantId,
      user_id: userId,
      asset_code: 'IDR',
      kind: 'customer',
      account_number: account.accountNumber,
    })
    .execute();
}
