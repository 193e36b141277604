import { sql } from 'kysely';
import type { NewOtpSession } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

/** The queries of the banking login (seed 000): customers by phone, OTP sessions, registration. */
export async function findCustomerByPhone(transaction: ScopedTransaction, phone: string) {
  return transaction
    .selectFrom('users')
    .select(['id', 'name', 'mother_name', 'pin_hash', 'status', 'deleted_at'])
    .where('phone', '=', phone)
    .where('role', '=', 'customer')
    .executeTakeFirst();
}

export type CustomerRow = NonNullable<Awaited<ReturnType<typeof findCustomerByPhone>>>;

export async function ownsAccountNumber(
  transaction: ScopedTransaction,
  userId: string,
  accountNumber: string,
): Promise<boolean> {
  const row = await transaction
    .selectFrom('bank_accounts')
    .select('id')
    .where('user_id', '=', userId)
    .where('account_number', '=', accountNumber)
    .where('is_active', '=', true)
    .executeTakeFirst();
  return row !== undefined;
}

export async function accountNumberTaken(
  transaction: ScopedTransaction,
  accountNumber: string,
): Promise<boolean> {
  const row = await transaction
    .selectFrom('wallets')
    .select('id')
    .where('account_number', '=', accountNumber)
    .executeTakeFirst();
  return row !== undefined;
}

export async function phoneTaken(transaction: ScopedTransaction, phone: string): Promise<boolean> {
  const row = await transaction
    .selectFrom('users')
    .select('id')
    .where('phone', '=', phone)
    .executeTakeFirst();
  return row !== undefined;
}

export async function insertOtpSession(
  transaction: ScopedTransaction,
  session: Omit<NewOtpSession, 'expires_at'>,
  ttlSeconds: number,
): Promise<void> {
  await transaction
    .insertInto('otp_sessions')
    .values({ ...session, expires_at: sql<Date>`now() + make_interval(secs => ${ttlSeconds})` })
    .execute();
}

export async function findUserSummary(transaction: ScopedTransaction, userId: string) {
  return transaction
    .selectFrom('users')
    .select(['id', 'name', 'phone', 'email', 'role', 'status', 'kyc_tier', 'mfa_enabled'])
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
}
