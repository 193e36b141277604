import { type Kysely, sql } from 'kysely';
import type { Database, KycDocumentType, KycStatus } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

/** The columns a KYC record is shown with; the document number's hash and the reviewer stay inside. */
const recordColumns = [
  'id',
  'user_id',
  'tier_level',
  'status',
  'document_type',
  'document_country',
  'rejection_reason',
  'submitted_at',
  'reviewed_at',
  'approved_at',
  'expires_at',
] as const;

/** The ids of every tenant, for the expiry job that walks them one transaction each. */
export async function listTenantIds(db: Kysely<Database>) {
  return db.selectFrom('tenants').select('id').execute();
}

export async function findPendingKycRecord(transaction: ScopedTransaction, tenantId: string, userId: string) {
  return transaction
    .selectFrom('kyc_records')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('status', '=', 'pending')
    .executeTakeFirst();
}

export interface NewKycRecordValues {
  tierLevel: 1 | 2;
  documentType: KycDocumentType;
  documentCountry: string;
  documentNumberHash: string;
  verificationData: Record<string, unknown>;
}

export async function insertPendingKycRecord(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  values: NewKycRecordValues,
) {
  return transaction
    .insertInto('kyc_records')
    .values({
      tenant_id: tenantId,
      user_id: userId,
      tier_level: values.tierLevel,
      status: 'pending',
      document_type: values.documentType,
      document_country: values.documentCountry,
      document_number_hash: values.documentNumberHash,
      verification_data: JSON.stringify(values.verificationData),
    })
    .returning(recordColumns)
    .executeTakeFirstOrThrow();
}

export async function findUserKycTier(transaction: ScopedTransaction, tenantId: string, userId: string) {
  return transaction
    .selectFrom('users')
    .select('kyc_tier')
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
}

/** A user's most recent records, newest first. */
export async function listUserKycRecords(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  limit: number,
) {
  return transaction
    .selectFrom('kyc_records')
    .select(recordColumns)
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .orderBy('submitted_at', 'desc')
    .limit(limit)
    .execute();
}

/** Records of one status oldest first by id (time-ordered), `limit + 1` rows for keyset pagination. */
export async function listKycRecordsByStatus(
  transaction: ScopedTransaction,
  tenantId: string,
  status: KycStatus,
  page: { limit: number; afterId?: string | undefined },
) {
  let select = transaction
    .selectFrom('kyc_records')
    .select(recordColumns)
    .where('tenant_id', '=', tenantId)
    .where('status', '=', status);
  if (page.afterId) select = select.where('id', '>', page.afterId);
  return select
    .orderBy('id')
    .limit(page.limit + 1)
    .execute();
}

/** The record under review, locked so two officers cannot decide it at once. */
export async function lockKycRecord(transaction: ScopedTransaction, tenantId: string, recordId: string) {
  return transaction
    .selectFrom('kyc_records')
    .select(['id', 'user_id', 'status', 'tier_level'])
    .where('tenant_id', '=', tenantId)
    .where('id', '=', recordId)
    .forUpdate()
    .executeTakeFirst();
}

export type KycDecisionValues =
  | { approve: true; reviewerId: string; validityDays: number }
  | { approve: false; reviewerId: string; reason: string };

export async function decideKycRecord(
  transaction: ScopedTransaction,
  tenantId: string,
  recordId: string,
  decision: KycDecisionValues,
) {
  const now = sql<Date>`now()`;
  return transaction
    .updateTable('kyc_records')
    .set(
      decision.approve
        ? {
            status: 'approved',
            reviewer_id: decision.reviewerId,
            reviewed_at: now,
            approved_at: now,
            expires_at: sql<Date>`now() + make_interval(days => ${decision.validityDays})`,
          }
        : {
            status: 'rejected',
            reviewer_id: decision.reviewerId,
            reviewed_at: now,
            rejection_reason: decision.reason,
          },
    )
    .where('tenant_id', '=', tenantId)
    .where('id', '=', recordId)
    .returning(recordColumns)
    .executeTakeFirstOrThrow();
}

/** The user's tier is the highest tier of their approved records that have not expired, else 0. */
export async function recomputeKycTier(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
): Promise<void> {
  await sql`
    update users set kyc_tier = coalesce((
      select max(tier_level) from kyc_records
      where tenant_id = ${tenantId} and user_id = ${userId} and status = 'approved'
        and (expires_at is null or expires_at > now())), 0)
    where tenant_id = ${tenantId} and id = ${userId}`.execute(transaction);
}

/** Approved records past expires_at become expired; returns which, for their audit rows. */
export async function expireApprovedKycRecords(transaction: ScopedTransaction, tenantId: string) {
  return transaction
    .updateTable('kyc_records')
    .set({ status: 'expired' })
    .where('tenant_id', '=', tenantId)
    .where('status', '=', 'approved')
    .where('expires_at', '<=', sql<Date>`now()`)
    .returning(['id', 'user_id'])
    .execute();
}
