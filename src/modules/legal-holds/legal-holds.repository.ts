import { sql } from 'kysely';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

const holdColumns = [
  'id',
  'user_id',
  'reason',
  'case_reference',
  'placed_by',
  'placed_at',
  'expires_at',
  'released_at',
  'released_by',
  'release_reason',
] as const;

export interface LegalHoldRow {
  id: string;
  user_id: string;
  reason: string;
  case_reference: string | null;
  placed_by: string;
  placed_at: Date;
  expires_at: Date | null;
  released_at: Date | null;
  released_by: string | null;
  release_reason: string | null;
}

export function insertLegalHold(
  transaction: ScopedTransaction,
  tenantId: string,
  values: {
    userId: string;
    reason: string;
    caseReference: string | null;
    placedBy: string;
    expiresAt: Date | null;
  },
): Promise<LegalHoldRow> {
  return transaction
    .insertInto('legal_holds')
    .values({
      tenant_id: tenantId,
      user_id: values.userId,
      reason: values.reason,
      case_reference: values.caseReference,
      placed_by: values.placedBy,
      expires_at: values.expiresAt,
    })
    .returning(holdColumns)
    .executeTakeFirstOrThrow();
}

/**
 * Releases a hold in force, once: the `released_at is null` condition makes one of two concurrent
 * releases update the row and the other find nothing (undefined). An expired hold is released too,
 * so its record says who closed it.
 */
export function releaseLegalHold(
  transaction: ScopedTransaction,
  tenantId: string,
  id: string,
  release: { releasedBy: string; reason: string },
): Promise<LegalHoldRow | undefined> {
  return transaction
    .updateTable('legal_holds')
    .set({ released_at: sql`now()`, released_by: release.releasedBy, release_reason: release.reason })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .where('released_at', 'is', null)
    .returning(holdColumns)
    .executeTakeFirst();
}

export function findLegalHold(
  transaction: ScopedTransaction,
  tenantId: string,
  id: string,
): Promise<LegalHoldRow | undefined> {
  return transaction
    .selectFrom('legal_holds')
    .select(holdColumns)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** A tenant's holds, newest first (ids are UUIDv7), optionally of one customer and only those in force. */
export function listLegalHolds(
  transaction: ScopedTransaction,
  tenantId: string,
  filter: {
    userId?: string | undefined;
    inForceAt?: Date | undefined;
    beforeId?: string | undefined;
    limit: number;
  },
): Promise<LegalHoldRow[]> {
  let query = transaction.selectFrom('legal_holds').select(holdColumns).where('tenant_id', '=', tenantId);
  if (filter.userId) query = query.where('user_id', '=', filter.userId);
  if (filter.inForceAt) query = query.where(inForce(filter.inForceAt));
  if (filter.beforeId) query = query.where('id', '<', filter.beforeId);
  return query
    .orderBy('id', 'desc')
    .limit(filter.limit + 1)
    .execute();
}

/** In force at `now`: not released, and without an expiry or before it. */
const inForce = (now: Date) =>
  sql<boolean>`released_at is null and (expires_at is null or expires_at > ${now})`;

/** The customers with a hold in force at `now` (retention keeps their rows). */
export async function heldUserIds(transaction: ScopedTransaction, now: Date): Promise<string[]> {
  // Scoped by the transaction's tenant (row-level security).
  const rows = await transaction
    .selectFrom('legal_holds')
    .select('user_id')
    .distinct()
    .where(inForce(now))
    .execute();
  return rows.map((row) => row.user_id);
}

/** Whether a hold is in force for the customer at `now` (erasure is refused while one is). */
export async function userHasLegalHold(
  transaction: ScopedTransaction,
  userId: string,
  now: Date,
): Promise<boolean> {
  const row = await transaction
    .selectFrom('legal_holds')
    .select('id')
    .where('user_id', '=', userId)
    .where(inForce(now))
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
