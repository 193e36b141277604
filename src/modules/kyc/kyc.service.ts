import { createHmac } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Database, KycDocumentType, KycStatus } from '../../db/schema.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { decodeIdCursor, nextIdCursor } from '../../platform/pagination.ts';

export interface KycServices {
  db: Kysely<Database>;
  /** Keys the hash of document numbers: the number itself is never stored. */
  documentKey: Buffer;
  validityDays: number;
}

export interface KycSubmission {
  tier_level: 1 | 2;
  document_type: KycDocumentType;
  document_country: string;
  document_number: string;
  verification_data?: Record<string, unknown> | undefined;
}

export interface KycView {
  id: string;
  user_id: string;
  tier_level: number;
  status: KycStatus;
  document_type: KycDocumentType | null;
  document_country: string | null;
  rejection_reason: string | null;
  submitted_at: string;
  reviewed_at: string | null;
  approved_at: string | null;
  expires_at: string | null;
}

const columns = [
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

type Row = Omit<KycView, 'submitted_at' | 'reviewed_at' | 'approved_at' | 'expires_at'> & {
  submitted_at: Date;
  reviewed_at: Date | null;
  approved_at: Date | null;
  expires_at: Date | null;
};

function view(row: Row): KycView {
  return {
    ...row,
    submitted_at: row.submitted_at.toISOString(),
    reviewed_at: row.reviewed_at?.toISOString() ?? null,
    approved_at: row.approved_at?.toISOString() ?? null,
    expires_at: row.expires_at?.toISOString() ?? null,
  };
}

/** Customer: submit a KYC record for review (seed 002 create()); one pending submission at a time. */
export async function submitKyc(
  services: KycServices,
  principal: Principal,
  audit: AuditContext,
  submission: KycSubmission,
): Promise<KycView> {
  return withScope(
    services.db,
    { tenantId: principal.tenantId, userId: principal.userId },
    async (transaction) => {
      // Serializes a customer's submissions so two racing requests cannot both become pending.
      await sql`select id from users where tenant_id = ${principal.tenantId} and id = ${principal.userId} for update`.execute(
        transaction,
      );
      const pending = await transaction
        .selectFrom('kyc_records')
        .select('id')
        .where('tenant_id', '=', principal.tenantId)
        .where('user_id', '=', principal.userId)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      if (pending) throw new AppError('KYC_ALREADY_PENDING');
      const documentHash = createHmac('sha256', services.documentKey)
        .update(`${submission.document_country}:${submission.document_type}:${submission.document_number}`)
        .digest('hex');
      const row = await transaction
        .insertInto('kyc_records')
        .values({
          tenant_id: principal.tenantId,
          user_id: principal.userId,
          tier_level: submission.tier_level,
          status: 'pending',
          document_type: submission.document_type,
          document_country: submission.document_country,
          document_number_hash: documentHash,
          verification_data: JSON.stringify(submission.verification_data ?? {}),
        })
        .returning(columns)
        .executeTakeFirstOrThrow();
      await recordAudit(transaction, audit, {
        entityType: 'kyc_record',
        entityId: row.id,
        action: 'SUBMIT',
        newValues: {
          tier_level: row.tier_level,
          document_type: row.document_type,
          document_country: row.document_country,
        },
      });
      return view(row as Row);
    },
  );
}

export async function listOwnKyc(
  services: KycServices,
  principal: Principal,
): Promise<{ kyc_tier: number; records: KycView[] }> {
  return withScope(
    services.db,
    { tenantId: principal.tenantId, userId: principal.userId },
    async (transaction) => {
      const user = await transaction
        .selectFrom('users')
        .select('kyc_tier')
        .where('tenant_id', '=', principal.tenantId)
        .where('id', '=', principal.userId)
        .executeTakeFirstOrThrow();
      const rows = await transaction
        .selectFrom('kyc_records')
        .select(columns)
        .where('tenant_id', '=', principal.tenantId)
        .where('user_id', '=', principal.userId)
        .orderBy('submitted_at', 'desc')
        .limit(20)
        .execute();
      return { kyc_tier: user.kyc_tier, records: rows.map((row) => view(row as Row)) };
    },
  );
}

/** Oldest first (ids are time-ordered), keyset-paginated so a long queue can be worked through. */
export async function listKycForReview(
  services: KycServices,
  principal: Principal,
  query: { status: KycStatus; limit: number; cursor?: string | undefined },
): Promise<{ records: KycView[]; next_cursor: string | null }> {
  const afterId = query.cursor ? decodeIdCursor(query.cursor) : undefined;
  return withScope(services.db, { tenantId: principal.tenantId }, async (transaction) => {
    let select = transaction
      .selectFrom('kyc_records')
      .select(columns)
      .where('tenant_id', '=', principal.tenantId)
      .where('status', '=', query.status);
    if (afterId) select = select.where('id', '>', afterId);
    const rows = await select
      .orderBy('id')
      .limit(query.limit + 1)
      .execute();
    return {
      records: rows.slice(0, query.limit).map((row) => view(row as Row)),
      next_cursor: nextIdCursor(rows, query.limit),
    };
  });
}

/** Officer: approve (the user's tier becomes the record's) or reject with a reason; only a pending record. */
export async function reviewKyc(
  services: KycServices,
  principal: Principal,
  audit: AuditContext,
  recordId: string,
  decision: { approve: true } | { approve: false; reason: string },
): Promise<KycView> {
  const tenantId = principal.tenantId;
  return withScope(services.db, { tenantId }, async (transaction) => {
    const record = await transaction
      .selectFrom('kyc_records')
      .select(['id', 'user_id', 'status', 'tier_level'])
      .where('tenant_id', '=', tenantId)
      .where('id', '=', recordId)
      .forUpdate()
      .executeTakeFirst();
    if (!record) throw new AppError('NOT_FOUND', 'The KYC record does not exist.');
    if (record.status !== 'pending') throw new AppError('KYC_NOT_PENDING');
    const now = sql<Date>`now()`;
    const row = await transaction
      .updateTable('kyc_records')
      .set(
        decision.approve
          ? {
              status: 'approved',
              reviewer_id: principal.userId,
              reviewed_at: now,
              approved_at: now,
              expires_at: sql<Date>`now() + make_interval(days => ${services.validityDays})`,
            }
          : {
              status: 'rejected',
              reviewer_id: principal.userId,
              reviewed_at: now,
              rejection_reason: decision.reason,
            },
      )
      .where('tenant_id', '=', tenantId)
      .where('id', '=', recordId)
      .returning(columns)
      .executeTakeFirstOrThrow();
    if (decision.approve) await recomputeTier(transaction, tenantId, record.user_id);
    await recordAudit(
      transaction,
      { ...audit, userId: record.user_id },
      {
        entityType: 'kyc_record',
        entityId: recordId,
        action: decision.approve ? 'APPROVE' : 'REJECT',
        oldValues: { status: 'pending' },
        newValues: decision.approve
          ? { status: 'approved', tier_level: record.tier_level }
          : { status: 'rejected', reason: decision.reason },
      },
    );
    return view(row as Row);
  });
}

/** The user's tier is the highest tier of their approved records that have not expired, else 0. */
async function recomputeTier(
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

/** The scheduled job (seed 002 update_expired_records): approved records past expires_at become expired. */
export async function expireKycRecords(db: Kysely<Database>): Promise<number> {
  const tenants = await db.selectFrom('tenants').select('id').execute();
  let expired = 0;
  for (const { id: tenantId } of tenants) {
    expired += await withScope(db, { tenantId }, async (transaction) => {
      const rows = await transaction
        .updateTable('kyc_records')
        .set({ status: 'expired' })
        .where('tenant_id', '=', tenantId)
        .where('status', '=', 'approved')
        .where('expires_at', '<=', sql<Date>`now()`)
        .returning(['id', 'user_id'])
        .execute();
      for (const row of rows) {
        await recomputeTier(transaction, tenantId, row.user_id);
        await recordAudit(
          transaction,
          { tenantId, userId: row.user_id, endpoint: 'job:kyc-expiry' },
          {
            entityType: 'kyc_record',
            entityId: row.id,
            action: 'EXPIRE',
            oldValues: { status: 'approved' },
            newValues: { status: 'expired' },
          },
        );
      }
      return rows.length;
    });
  }
  return expired;
}
