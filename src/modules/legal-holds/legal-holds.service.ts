import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { decodeIdCursor, nextIdCursor } from '../../platform/pagination.ts';
import { requireCustomer } from '../staff/staff-users.repository.ts';
import {
  findLegalHold,
  insertLegalHold,
  type LegalHoldRow,
  listLegalHolds,
  releaseLegalHold,
} from './legal-holds.repository.ts';
import type { LegalHoldListQuery, LegalHoldView, PlaceLegalHoldBody } from './legal-holds.schemas.ts';

const iso = (value: Date | null) => (value ? value.toISOString() : null);

function legalHoldView(row: LegalHoldRow, now: Date): LegalHoldView {
  return {
    ...row,
    placed_at: row.placed_at.toISOString(),
    expires_at: iso(row.expires_at),
    released_at: iso(row.released_at),
    in_force: row.released_at === null && (row.expires_at === null || row.expires_at > now),
  };
}

/** An expiry is a future time: a hold that has already expired preserves nothing. */
function expiryOf(expiresAt: string | undefined, now: Date): Date | null {
  if (expiresAt === undefined) return null;
  const expiry = new Date(expiresAt);
  if (!(expiry > now))
    throw new AppError('VALIDATION_FAILED', undefined, [
      { field: 'body.expires_at', reason: 'must be in the future' },
    ]);
  return expiry;
}

/** Staff: POST /v1/admin/legal-holds. Preserves one customer's data until released or expired. */
export async function placeLegalHold(
  db: Kysely<Database>,
  principal: Principal,
  audit: AuditContext,
  body: PlaceLegalHoldBody,
): Promise<LegalHoldView> {
  const now = new Date();
  const expiresAt = expiryOf(body.expires_at, now);
  const row = await withScope(db, { tenantId: principal.tenantId }, async (transaction) => {
    await requireCustomer(transaction, principal.tenantId, body.user_id);
    const hold = await insertLegalHold(transaction, principal.tenantId, {
      userId: body.user_id,
      reason: body.reason,
      caseReference: body.case_reference ?? null,
      placedBy: principal.userId,
      expiresAt,
    });
    await recordAudit(transaction, audit, {
      entityType: 'legal_hold',
      entityId: hold.id,
      action: 'LEGAL_HOLD_PLACE',
      newValues: {
        user_id: hold.user_id,
        case_reference: hold.case_reference,
        expires_at: iso(hold.expires_at),
      },
      statusCode: 201,
    });
    return hold;
  });
  return legalHoldView(row, now);
}

/** Staff: POST /v1/admin/legal-holds/{id}/release. Once: a second release is 409 LEGAL_HOLD_RELEASED. */
export async function releaseHold(
  db: Kysely<Database>,
  principal: Principal,
  audit: AuditContext,
  id: string,
  reason: string,
): Promise<LegalHoldView> {
  const row = await withScope(db, { tenantId: principal.tenantId }, async (transaction) => {
    if (!(await findLegalHold(transaction, principal.tenantId, id)))
      throw new AppError('NOT_FOUND', 'No legal hold with this id.');
    const released = await releaseLegalHold(transaction, principal.tenantId, id, {
      releasedBy: principal.userId,
      reason,
    });
    if (!released) throw new AppError('LEGAL_HOLD_RELEASED');
    await recordAudit(
      transaction,
      { ...audit, userId: released.user_id },
      {
        entityType: 'legal_hold',
        entityId: released.id,
        action: 'LEGAL_HOLD_RELEASE',
        oldValues: { released_at: null },
        newValues: { released_at: iso(released.released_at) },
        statusCode: 200,
      },
    );
    return released;
  });
  return legalHoldView(row, new Date());
}

export async function listHolds(
  db: Kysely<Database>,
  principal: Principal,
  query: LegalHoldListQuery,
): Promise<{ legal_holds: LegalHoldView[]; next_cursor: string | null }> {
  const now = new Date();
  const rows = await withScope(db, { tenantId: principal.tenantId }, (transaction) =>
    listLegalHolds(transaction, principal.tenantId, {
      userId: query.user_id,
      inForceAt: query.in_force ? now : undefined,
      beforeId: query.cursor ? decodeIdCursor(query.cursor) : undefined,
      limit: query.limit,
    }),
  );
  return {
    legal_holds: rows.slice(0, query.limit).map((row) => legalHoldView(row, now)),
    next_cursor: nextIdCursor(rows, query.limit),
  };
}
