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

export interface NewCustomer {
  tenantId: string;
  name: string;
  phone: string;
  motherName: string;
  pinHash: string;
  accountNumber: string;
}

/** The user, their profile, their primary bank account and their IDR wallet with the same number. */
export async function insertCustomer(transaction: ScopedTransaction, customer: NewCustomer): Promise<string> {
  const tenantId = customer.tenantId;
  const user = await transaction
    .insertInto('users')
    .values({
      tenant_id: tenantId,
      role: 'customer',
      name: customer.name,
      phone: customer.phone,
      mother_name: customer.motherName,
      pin_hash: customer.pinHash,
      is_verified: true,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await transaction
    .insertInto('user_profiles')
    .values({ tenant_id: tenantId, user_id: user.id, tags: ['customer'], metadata: JSON.stringify({}) })
    .execute();
  await transaction
    .insertInto('bank_accounts')
    .values({
      tenant_id: tenantId,
      user_id: user.id,
      account_number: customer.accountNumber,
      account_name: customer.name.slice(0, 100),
      account_type: 'saving',
      is_primary: true,
    })
    .execute();
  await transaction
    .insertInto('wallets')
    .values({
      tenant_id: tenantId,
      user_id: user.id,
      asset_code: 'IDR',
      kind: 'customer',
      account_number: customer.accountNumber,
    })
    .execute();
  return user.id;
}

export async function findUserSummary(transaction: ScopedTransaction, userId: string) {
  return transaction
    .selectFrom('users')
    .select(['id', 'name', 'phone', 'email', 'role', 'status', 'kyc_tier', 'mfa_enabled'])
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
}
