import type { ConsentConfig } from '../../config/consent-config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import { readInScope, type Scope, type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError, type ErrorDetail } from '../../platform/errors.ts';
import { lockUserRow } from '../staff/staff-users.repository.ts';
import {
  countRecipientsInForce,
  endConsent,
  findConsentInForce,
  insertConsent,
  listDocumentsInForce,
  ownConsentsQuery,
} from './consents.repository.ts';
import {
  type ConsentChange,
  type ConsentsResponse,
  type ConsentView,
  consentHistoryMax,
  dataSharingRecipientsMax,
  documentPurposes,
} from './consents.schemas.ts';

type ConsentRow = Awaited<ReturnType<typeof insertConsent>>;

export interface ConsentStatus {
  consent_required: boolean;
  required_documents: { purpose: 'terms' | 'privacy'; version: string }[];
}

function view(row: ConsentRow): ConsentView {
  const status = row.withdrawn_at ? 'withdrawn' : row.superseded_at ? 'superseded' : 'in_force';
  return {
    ...row,
    status,
    granted_at: row.granted_at.toISOString(),
    withdrawn_at: row.withdrawn_at?.toISOString() ?? null,
    superseded_at: row.superseded_at?.toISOString() ?? null,
  };
}

function currentVersion(config: ConsentConfig, purpose: 'terms' | 'privacy'): string {
  return purpose === 'terms' ? config.termsVersion : config.privacyPolicyVersion;
}

/** The documents whose current version the customer has not accepted, from the versions in force. */
function statusOf(config: ConsentConfig, accepted: readonly { purpose: string; document_version: string }[]) {
  const required_documents = documentPurposes
    .map((purpose) => ({ purpose, version: currentVersion(config, purpose) }))
    .filter(
      (document) =>
        !accepted.some(
          (row) => row.purpose === document.purpose && row.document_version === document.version,
        ),
    );
  return { consent_required: required_documents.length > 0, required_documents };
}

/**
 * The login's consent check (both customer login flows), in the login's transaction: a customer who
 * has not accepted the current terms or privacy policy version is told so with the session, and a new
 * version (TERMS_VERSION, PRIVACY_POLICY_VERSION) makes every customer accept it again.
 */
export async function consentStatusIn(
  transaction: ScopedTransaction,
  config: ConsentConfig,
  tenantId: string,
  userId: string,
): Promise<ConsentStatus> {
  return statusOf(config, await listDocumentsInForce(transaction, tenantId, userId));
}

/**
 * GET /v1/me/consents: the documents still to accept, the consents in force now, and the history of
 * every grant newest first, read as the customer (row-level security admits only their rows) in one
 * statement.
 */
export async function readConsents(
  database: DatabaseHandle,
  config: ConsentConfig,
  scope: Scope & { userId: string },
): Promise<ConsentsResponse> {
  const inForceMax = documentPurposes.length + 1 + dataSharingRecipientsMax;
  const limit = inForceMax + consentHistoryMax + 1;
  const query = ownConsentsQuery(database.db, scope.tenantId, scope.userId, limit);
  const rows = await readInScope(database, scope, query);
  const inForce = rows.filter((row) => !row.withdrawn_at && !row.superseded_at);
  const newestFirst = [...rows].sort(
    (left, right) => right.granted_at.getTime() - left.granted_at.getTime() || (right.id > left.id ? 1 : -1),
  );
  return {
    ...statusOf(config, inForce),
    in_force: inForce.map(view),
    history: newestFirst.slice(0, consentHistoryMax).map(view),
    history_truncated: rows.length > consentHistoryMax,
  };
}

/** The body's shape beyond the schema: which fields each purpose and action takes. */
function checkChange(change: ConsentChange): void {
  const details: ErrorDetail[] = [];
  const isDocument = change.purpose === 'terms' || change.purpose === 'privacy';
  if (isDocument && change.action === 'grant' && change.version === undefined) {
    details.push({ field: 'body.version', reason: `is required to accept ${change.purpose}` });
  }
  if (change.version !== undefined && !(isDocument && change.action === 'grant')) {
    details.push({ field: 'body.version', reason: 'is only taken when accepting terms or privacy' });
  }
  if (change.purpose === 'data_sharing' && change.recipient === undefined) {
    details.push({ field: 'body.recipient', reason: 'is required for data_sharing' });
  }
  if (change.purpose !== 'data_sharing' && change.recipient !== undefined) {
    details.push({ field: 'body.recipient', reason: 'is only taken for data_sharing' });
  }
  if (details.length > 0) throw new AppError('VALIDATION_FAILED', undefined, details);
}

/** The version a grant is recorded under: the accepted document's, or the privacy policy in force. */
function grantVersion(config: ConsentConfig, change: ConsentChange): string {
  if (change.purpose !== 'terms' && change.purpose !== 'privacy') return config.privacyPolicyVersion;
  const current = currentVersion(config, change.purpose);
  if (change.version !== current) {
    throw new AppError('CONSENT_VERSION_NOT_CURRENT', undefined, [
      { field: 'body.version', reason: `the current ${change.purpose} version is ${current}` },
    ]);
  }
  return current;
}

export interface ConsentChangeResult {
  consent: ConsentView;
  changed: boolean;
}

/**
 * POST /v1/me/consents: grants or withdraws one purpose, as the customer, with its audit row in the
 * same transaction. Changes of one customer's consents serialize on their user row, so "one grant in
 * force per purpose and recipient" (a unique index) is kept by the code and only proven by the database.
 */
export async function changeConsent(
  database: DatabaseHandle,
  config: ConsentConfig,
  principal: Principal,
  audit: AuditContext,
  change: ConsentChange,
): Promise<ConsentChangeResult> {
  checkChange(change);
  // Accepting a document is a record of what the customer agreed to, not a permission they can take
  // back: leaving the terms is closing the account.
  if (change.action === 'withdraw' && (change.purpose === 'terms' || change.purpose === 'privacy')) {
    throw new AppError('CONSENT_NOT_WITHDRAWABLE');
  }
  const version = change.action === 'grant' ? grantVersion(config, change) : undefined;
  const { tenantId, userId } = principal;
  return withScope(database.db, { tenantId, userId }, async (transaction) => {
    await lockUserRow(transaction, tenantId, userId);
    const recipient = change.recipient ?? null;
    const inForce = await findConsentInForce(transaction, tenantId, userId, change.purpose, recipient);
    if (version === undefined) return withdraw(transaction, audit, inForce);
    if (inForce && (inForce.document_version === version || change.purpose === 'marketing' || recipient)) {
      // Already granted: a repeated grant writes nothing (marketing and data sharing are granted once,
      // whatever privacy policy was in force then; a document is accepted once per version).
      return { consent: view(inForce), changed: false };
    }
    if (!inForce && recipient) {
      const count = await countRecipientsInForce(transaction, tenantId, userId);
      if (count >= dataSharingRecipientsMax) {
        throw new AppError(
          'CONFLICT',
          `At most ${dataSharingRecipientsMax} data recipients can be in force.`,
        );
      }
    }
    const superseded = inForce
      ? await endConsent(transaction, tenantId, inForce.id, 'superseded_at')
      : undefined;
    const row = await insertConsent(transaction, tenantId, userId, {
      purpose: change.purpose,
      document_version: version,
      recipient,
    });
    await recordAudit(transaction, audit, {
      entityType: 'consent',
      entityId: row.id,
      action: 'GRANT',
      oldValues: superseded
        ? { consent_id: superseded.id, document_version: superseded.document_version }
        : undefined,
      newValues: { purpose: row.purpose, document_version: row.document_version, recipient: row.recipient },
    });
    return { consent: view(row), changed: true };
  });
}

async function withdraw(
  transaction: ScopedTransaction,
  audit: AuditContext,
  inForce: ConsentRow | undefined,
): Promise<ConsentChangeResult> {
  const ended = inForce
    ? await endConsent(transaction, audit.tenantId, inForce.id, 'withdrawn_at')
    : undefined;
  if (!ended) throw new AppError('NOT_FOUND', 'No consent of this purpose (and recipient) is in force.');
  await recordAudit(transaction, audit, {
    entityType: 'consent',
    entityId: ended.id,
    action: 'WITHDRAW',
    oldValues: { withdrawn_at: null },
    newValues: { purpose: ended.purpose, recipient: ended.recipient, withdrawn_at: ended.withdrawn_at },
  });
  return { consent: view(ended), changed: true };
}
