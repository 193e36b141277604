import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from './schema.ts';

/** Who a database transaction acts for; row-level security reads these settings. */
export interface Scope {
  tenantId: string;
  /** Set for a customer acting on their own data; restricts user-private tables to their rows. */
  userId?: string | undefined;
}

export type ScopedTransaction = Transaction<Database>;

/** The non-owner, non-superuser role every application query runs as, so RLS always applies. */
export const applicationRole = 'corebank_app';

/**
 * Runs `work` in one transaction as the application role with the tenant (and optionally the user)
 * set for row-level security. All three settings are transaction-local (`is_local = true`), so a
 * pooled connection never carries one request's tenant into the next.
 */
export async function withScope<T>(
  db: Kysely<Database>,
  scope: Scope,
  work: (transaction: ScopedTransaction) => Promise<T>,
): Promise<T> {
  return db.transaction().execute(async (transaction) => {
    await applyScope(transaction, scope, applicationRole);
    return work(transaction);
  });
}

export async function applyScope(transaction: ScopedTransaction, scope: Scope, role: string): Promise<void> {
  await sql`select set_config('app.tenant_id', ${scope.tenantId}, true),
                   set_config('app.user_id', ${scope.userId ?? ''}, true),
                   set_config('role', ${role}, true)`.execute(transaction);
}
