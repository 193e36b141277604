import { type Kysely, sql } from 'kysely';
import type { ConsentPurpose, Database } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

const consentColumns = [
  'id',
  'purpose',
  'document_version',
  'recipient',
  'granted_at',
  'withdrawn_at',
  'superseded_at',
] as const;

function ownConsents(db: Kysely<Database>, tenantId: string, userId: string) {
  return db
    .selectFrom('consents')
    .select(consentColumns)
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId);
}

/**
 * The customer's consents for GET /v1/me/consents, as one statement (read with readInScope): every
 * grant in force first (at most `inForceMax`), then the rest newest first, `limit` rows in all. The
 * newest `historyMax` of all grants are among them whenever limit = inForceMax + historyMax + 1.
 */
export function ownConsentsQuery(db: Kysely<Database>, tenantId: string, userId: string, limit: number) {
  return ownConsents(db, tenantId, userId)
    .orderBy(sql`(withdrawn_at is null and superseded_at is null)`, 'desc')
    .orderBy('granted_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .compile();
}

/** The grant in force of one purpose (and, for data_sharing, one recipient compared without case). */
export async function findConsentInForce(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  purpose: ConsentPurpose,
  recipient: string | null,
) {
  return (
    ownConsents(transaction, tenantId, userId)
      .where('purpose', '=', purpose)
      // Both sides lowered by the database, as the unique index lowers them: JavaScript's toLowerCase
      // differs from PostgreSQL's lower() on some letters ("İ", final "Σ").
      .where(sql<string>`lower(coalesce(recipient, ''))`, '=', sql<string>`lower(${recipient ?? ''})`)
      .where('withdrawn_at', 'is', null)
      .where('superseded_at', 'is', null)
      .executeTakeFirst()
  );
}

/** The versions of the documents in force for a user (terms, privacy), for the login's consent check. */
export async function listDocumentsInForce(transaction: ScopedTransaction, tenantId: string, userId: string) {
  return transaction
    .selectFrom('consents')
    .select(['purpose', 'document_version'])
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('purpose', 'in', ['terms', 'privacy'])
    .where('withdrawn_at', 'is', null)
    .where('superseded_at', 'is', null)
    .execute();
}

export async function countRecipientsInForce(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
): Promise<number> {
  const row = await transaction
    .selectFrom('consents')
    .select((expression) => expression.fn.countAll<number>().as('count'))
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('purpose', '=', 'data_sharing')
    .where('withdrawn_at', 'is', null)
    .where('superseded_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export async function insertConsent(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  values: { purpose: ConsentPurpose; document_version: string; recipient: string | null },
) {
  return transaction
    .insertInto('consents')
    .values({ tenant_id: tenantId, user_id: userId, ...values })
    .returning(consentColumns)
    .executeTakeFirstOrThrow();
}

/**
 * Ends a grant in force, once: by the customer's withdrawal or by a newer version's acceptance. The
 * condition on both ends makes a second end a no-op (undefined) instead of a second change.
 */
export async function endConsent(
  transaction: ScopedTransaction,
  tenantId: string,
  consentId: string,
  end: 'withdrawn_at' | 'superseded_at',
) {
  return transaction
    .updateTable('consents')
    .set({ [end]: sql`greatest(now(), granted_at)` })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', consentId)
    .where('withdrawn_at', 'is', null)
    .where('superseded_at', 'is', null)
    .returning(consentColumns)
    .executeTakeFirst();
}
