import { sql } from 'kysely';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

export interface HoldRow {
  id: string;
  wallet_id: string;
  amount: number;
  status: 'active' | 'released' | 'captured';
  reason: string | null;
  operation_id: string | null;
  created_at: Date;
  released_at: Date | null;
  captured_at: Date | null;
}

const holdColumns = [
  'id',
  'wallet_id',
  'amount',
  'status',
  'reason',
  'operation_id',
  'created_at',
  'released_at',
  'captured_at',
] as const;

export async function insertHold(
  transaction: ScopedTransaction,
  tenantId: string,
  values: {
    id: string;
    walletId: string;
    amount: number;
    reason: string;
    operationId?: string;
    createdBy: string;
  },
): Promise<HoldRow> {
  return transaction
    .insertInto('balance_holds')
    .values({
      tenant_id: tenantId,
      id: values.id,
      wallet_id: values.walletId,
      amount: values.amount,
      reason: values.reason,
      operation_id: values.operationId ?? null,
      created_by: values.createdBy,
    })
    .returning(holdColumns)
    .executeTakeFirstOrThrow();
}

/**
 * Ends an active hold. The `status = 'active'` condition makes release and capture happen exactly
 * once: of two concurrent attempts one updates the row, the other finds nothing to end.
 */
export async function endHold(
  transaction: ScopedTransaction,
  tenantId: string,
  holdId: string,
  outcome: 'released' | 'captured',
): Promise<HoldRow | undefined> {
  return transaction
    .updateTable('balance_holds')
    .set(
      outcome === 'released'
        ? { status: 'released', released_at: sql<Date>`now()` }
        : { status: 'captured', captured_at: sql<Date>`now()` },
    )
    .where('tenant_id', '=', tenantId)
    .where('id', '=', holdId)
    .where('status', '=', 'active')
    .returning(holdColumns)
    .executeTakeFirst();
}

export async function findHold(
  transaction: ScopedTransaction,
  tenantId: string,
  holdId: string,
): Promise<HoldRow | undefined> {
  return transaction
    .selectFrom('balance_holds')
    .select(holdColumns)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', holdId)
    .executeTakeFirst();
}

/** A customer's holds newest first by id (time-ordered), `limit + 1` rows for keyset pagination. */
export async function listHolds(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  page: { limit: number; beforeId?: string | undefined },
): Promise<HoldRow[]> {
  let select = transaction
    .selectFrom('balance_holds')
    .select(holdColumns)
    .where('tenant_id', '=', tenantId)
    .where('wallet_id', 'in', (eb) =>
      eb.selectFrom('wallets').select('id').where('tenant_id', '=', tenantId).where('user_id', '=', userId),
    );
  if (page.beforeId) select = select.where('id', '<', page.beforeId);
  return select
    .orderBy('id', 'desc')
    .limit(page.limit + 1)
    .execute();
}
