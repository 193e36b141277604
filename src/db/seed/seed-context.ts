import type { Config } from '../../config/config.ts';
import type { AuditContext } from '../../platform/audit/audit-trail.ts';
import type { ScopedTransaction } from '../tenant-transaction.ts';

/** What every seeding step receives: the open transaction, the tenant and the configuration. */
export interface SeedContext {
  transaction: ScopedTransaction;
  tenantId: string;
  config: Config;
  audit: AuditContext;
}

export interface SeededCustomer {
  id: string;
  name: string;
  phone: string;
  accountNumber: string;
  status: 0 | 1 | 2;
  walletId: string;
}

export interface SeededPeople {
  superAdminId: string;
  adminId: string;
  officerId: string;
  customers: SeededCustomer[];
}

export interface DemoCredential {
  role: string;
  login: string;
  secret: string;
  note: string;
}

/** Fixed clock offsets keep the development data readable (events spread over the last days). */
export function hoursAgo(hours: number): Date {
  return new Date(Date.now() - hours * 3600_000);
}

export function hoursFromNow(hours: number): Date {
  return new Date(Date.now() + hours * 3600_000);
}
