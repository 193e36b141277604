import { createHmac } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, KycDocumentType, KycStatus } from '../../db/schema.ts';
import { withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { decodeIdCursor, nextIdCursor } from '../../platform/pagination.ts';
import { lockUserRow } from '../staff/staff-users.repository.ts';
import {
  decideKycRecord,
  expireApprovedKycRecords,
  findPendingKycRecord,
  findUserKycTier,
  insertPendingKycRecord,
  listKycRecordsByStatus,
  listTenantIds,
  listUserKycRecords,
  lockKycRecord,
  recomputeKycTier,
} from './kyc.repository.ts';

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

type KycRecordRow = Awaited<ReturnType<typeof decideKycRecord>>;

function view(row: KycRecordRow): KycView {
  return {
    ...row,
    submitted_at: row.submitted_at.toISOString(),
    reviewed_at: row.reviewed_at?.toISOString() ?? null,
    approved_at: row.approved_at?.toISOString() ?? null,
    expires_at: row.expires_at?.toISOString() ?? null,
  };
}

/** A customer sees their most recent records only. */
const ownRecordsMax = 20;

/** Customer: submit a KYC record for review (seed 002 create()); one pending submission at a time. */
export async function submitKyc(
  services: KycServices,
  principal: Principal,
  audit: AuditContext,
  submission: KycSubmission,
): Promise<KycView> {
  const { tenantId, userId } = principal;
  return withScope(services.db, { tenantId, userId }, async (transaction) => {
    // Serializes a customer's submissions so two racing requests cannot both become pending.
    await lockUserRow(transaction, tenantId, userId);
    const pending = await findPendingKycRecord(transaction, tenantId, userId);
    if (pending) throw new AppError('KYC_ALREADY_PENDING');
    const documentNumberHash = createHmac('sha256', services.documentKey)
      .update(`${submission.document_country}:${submission.document_type}:${submission.document_number}`)
      .digest('hex');
    const row = await insertPendingKycRecord(transaction, tenantId, userId, {
      tierLevel: submission.tier_level,
      documentType: submission.document_type,
      documentCountry: submission.document_country,
      documentNumberHash,
      verificationData: submission.verification_data ?? {},
    });
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
    return view(row);
  });
}

export async function listOwnKyc(
  services: KycServices,
  principal: Principal,
): Promise<{ kyc_tier: number; records: KycView[] }> {
  const { tenantId, userId } = principal;
  return withScope(services.db, { tenantId, userId }, async (transaction) => {
    const user = await findUserKycTier(transaction, tenantId, userId);
    const rows = await listUserKycRecords(transaction, tenantId, userId, ownRecordsMax);
    return { kyc_tier: user.kyc_tier, records: rows.map(view) };
  });
}

/** Oldest first (ids are time-ordered), keyset-paginated so a long queue can be worked through. */
export async function listKycForReview(
  services: KycServices,
  principal: Principal,
  query: { status: KycStatus; limit: number; cursor?: string | undefined },
): Promise<{ records: KycView[]; next_cursor: string | null }> {
  const afterId = query.cursor ? decodeIdCursor(query.cursor) : undefined;
  return withScope(services.db, { tenantId: principal.tenantId }, async (transaction) => {
    const rows = await listKycRecordsByStatus(transaction, principal.tenantId, query.status, {
      limit: query.limit,
      afterId,
    });
    return {
      records: rows.slice(0, query.limit).map(view),
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
    const record = await lockKycRecord(transaction, tenantId, recordId);
    if (!record) throw new AppError('NOT_FOUND', 'The KYC record does not exist.');
    if (record.status !== 'pending') throw new AppError('KYC_NOT_PENDING');
    const row = await decideKycRecord(
      transaction,
      tenantId,
      recordId,
      decision.approve
        ? { approve: true, reviewerId: principal.userId, validityDays: services.validityDays }
        : { approve: false, reviewerId: principal.userId, reason: decision.reason },
    );
    if (decision.approve) await recomputeKycTier(transaction, tenantId, record.user_id);
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
    return view(row);
  });
}

/** The scheduled job (seed 002 update_expired_records): approved records past expires_at become expired. */
export async function expireKycRecords(db: Kysely<Database>): Promise<number> {
  const tenants = await listTenantIds(db);
  let expired = 0;
  for (const { id: tenantId } of tenants) {
    expired += await withScope(db, { tenantId }, async (transaction) => {
      const rows = await expireApprovedKycRecords(transaction, tenantId);
      for (const row of rows) {
        await recomputeKycTier(transaction, tenantId, row.user_id);
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
