import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import { insertCustomerUser, insertPrimaryAccount, insertUserProfile } from './users.repository.ts';

/**
 * The one way a customer comes to exist, for both front doors: a banking login whose OTP proved an
 * unknown phone (seed 000) and an email registration (seeds 001, 002). Runs in the caller's
 * transaction: the user, their profile, for a banking customer their primary bank account and IDR
 * wallet with the same account number, and the REGISTER audit row.
 */
export type CustomerRegistration =
  | {
      kind: 'banking';
      name: string;
      phone: string;
      motherName: string;
      pinHash: string;
      accountNumber: string;
    }
  | { kind: 'email'; name: string; email: string; passwordHash: string };

/** Returns the new customer's id. */
export async function registerCustomer(
  transaction: ScopedTransaction,
  context: AuditContext,
  registration: CustomerRegistration,
): Promise<string> {
  const { tenantId } = context;
  const userId = await insertCustomerUser(transaction, tenantId, registration);
  const tags = registration.kind === 'banking' ? ['customer'] : ['customer', 'email'];
  await insertUserProfile(transaction, tenantId, userId, tags);
  if (registration.kind === 'banking') {
    await insertPrimaryAccount(transaction, tenantId, userId, {
      accountNumber: registration.accountNumber,
      accountName: registration.name.slice(0, 100),
    });
  }
  const newValues =
    registration.kind === 'banking'
      ? {
          name: registration.name,
          phone: registration.phone,
          account_number: registration.accountNumber,
          role: 'customer',
        }
      : { email: registration.email, name: registration.name, role: 'customer' };
  await recordAudit(
    transaction,
    { ...context, userId },
    { entityType: 'user', entityId: userId, action: 'REGISTER', newValues },
  );
  return userId;
}
