import { createHash } from 'node:crypto';
import type { Config } from '../../config/config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { recordSecurityEvent } from '../security-events/security-events.service.ts';
import { decryptArchive, encryptArchive } from './archive-encryption.ts';
import {
  claimRequestedExport,
  countExportsSince,
  expireExports,
  findExport,
  hasPendingExport,
  insertExportRequest,
  listTenantIds,
  lockRequester,
  markExportFailed,
  markExportReady,
  readAccounts,
  readAuditEntries,
  readConsents,
  readKycRecords,
  readLoginHistory,
  readProfile,
  readSessions,
  readStatement,
  readWallets,
} from './data-exports.repository.ts';

/**
 * GDPR data export (issue 11 item 5, article 15 and 20): the customer asks, a background job produces
 * one JSON document with a section per category, stored encrypted, downloadable by the same customer
 * until it expires.
 */
export interface DataExportServices {
  config: Config;
  database: DatabaseHandle;
}

/** Requests per customer per rolling day, pending or not: an archive is costly to build. */
export const exportsPerDayMax = 3;
const dayMs = 86_400_000;
/** How long a ready archive may be downloaded. */
export const exportRetentionMs = 7 * dayMs;
/** Rows per log category in one archive (the statement, sessions, logins, audit entries). */
const rowsPerCategoryMax = 50_000;
/** Exports produced per tenant per run of the job. */
const exportsPerRunMax = 10;

export const archiveCategories = [
  'profile',
  'accounts',
  'wallets',
  'statement',
  'sessions',
  'login_history',
  'audit_entries',
  'kyc_records',
  'consents',
] as const;

function customerScope(principal: Principal) {
  return { tenantId: principal.tenantId, userId: principal.userId };
}

/** POST /v1/me/data-export: one pending export per customer, a few a day. */
export async function requestDataExport(
  services: DataExportServices,
  principal: Principal,
  context: AuditContext,
) {
  if (principal.isStaff) throw new AppError('FORBIDDEN');
  return withScope(services.database.db, customerScope(principal), async (transaction) => {
    const user = await lockRequester(transaction, principal.userId);
    if (!user || user.deleted_at !== null) throw new AppError('NOT_FOUND');
    if (await hasPendingExport(transaction, principal.userId)) throw new AppError('DATA_EXPORT_PENDING');
    const since = new Date(Date.now() - dayMs);
    if ((await countExportsSince(transaction, principal.userId, since)) >= exportsPerDayMax) {
      throw new AppError('DATA_EXPORT_RATE_LIMITED', undefined, undefined, { retryAfterSeconds: 3600 });
    }
    const created = await insertExportRequest(transaction, principal.tenantId, principal.userId);
    await recordAudit(transaction, context, {
      entityType: 'data_export',
      entityId: created.id,
      action: 'REQUEST_DATA_EXPORT',
      newValues: { status: created.status },
    });
    await recordSecurityEvent(transaction, context, {
      type: 'DATA_EXPORT_REQUESTED',
      userId: principal.userId,
      description: 'The customer requested an export of all their data.',
      details: { export_id: created.id },
      targetResource: `data_export:${created.id}`,
    });
    return created;
  });
}

function statusView(row: NonNullable<Awaited<ReturnType<typeof findExport>>>, now: Date) {
  const expired = row.status === 'ready' && row.expires_at !== null && row.expires_at <= now;
  return {
    id: row.id,
    status: expired ? ('expired' as const) : row.status,
    requested_at: row.requested_at.toISOString(),
    completed_at: row.completed_at?.toISOString() ?? null,
    expires_at: row.expires_at?.toISOString() ?? null,
    size_bytes: row.size_bytes,
    sha256: row.sha256,
  };
}

/** GET /v1/me/data-export/{id}: the customer's own export only (row-level security, and the filter). */
export async function readDataExport(services: DataExportServices, principal: Principal, exportId: string) {
  const row = await withScope(services.database.db, customerScope(principal), (transaction) =>
    findExport(transaction, principal.userId, exportId),
  );
  if (!row) throw new AppError('NOT_FOUND');
  return statusView(row, new Date());
}

/** GET /v1/me/data-export/{id}/download: the decrypted JSON document, its digest checked. */
export async function downloadDataExport(
  services: DataExportServices,
  principal: Principal,
  context: AuditContext,
  exportId: string,
): Promise<{ archive: string; sha256: string }> {
  return withScope(services.database.db, customerScope(principal), async (transaction) => {
    const row = await findExport(transaction, principal.userId, exportId);
    if (!row) throw new AppError('NOT_FOUND');
    const view = statusView(row, new Date());
    if (view.status !== 'ready' || row.archive_ciphertext === null || row.archive_key_id === null) {
      throw new AppError('DATA_EXPORT_NOT_READY');
    }
    const archive = decryptArchive(
      services.config.authentication.mfaEncryptionKeys,
      { tenantId: principal.tenantId, userId: principal.userId, exportId },
      { ciphertext: row.archive_ciphertext, keyId: row.archive_key_id },
    );
    const sha256 = createHash('sha256').update(archive).digest('hex');
    if (sha256 !== row.sha256) throw new Error(`data export ${exportId} does not match its digest`);
    await recordAudit(transaction, context, {
      entityType: 'data_export',
      entityId: exportId,
      action: 'DOWNLOAD_DATA_EXPORT',
      newValues: { size_bytes: row.size_bytes },
    });
    return { archive, sha256 };
  });
}

/** The archive: one JSON document, a section per category, no secret (no hash, token or key). */
async function buildArchive(transaction: ScopedTransaction, tenantId: string, userId: string) {
  const sections = {
    profile: await readProfile(transaction, userId),
    accounts: await readAccounts(transaction, userId),
    wallets: await readWallets(transaction, userId),
    statement: await readStatement(transaction, userId, rowsPerCategoryMax),
    sessions: await readSessions(transaction, userId, rowsPerCategoryMax),
    login_history: await readLoginHistory(transaction, userId, rowsPerCategoryMax),
    audit_entries: await readAuditEntries(transaction, userId, rowsPerCategoryMax),
    kyc_records: await readKycRecords(transaction, userId),
    consents: await readConsents(transaction, userId),
  } satisfies Record<(typeof archiveCategories)[number], unknown>;
  return JSON.stringify({
    format: 'corebank-data-export',
    version: 1,
    generated_at: new Date().toISOString(),
    tenant_id: tenantId,
    user_id: userId,
    sections,
  });
}

/**
 * Produces one claimed export in the claiming transaction (a crash rolls the claim back: the export is
 * requested again); returns false when none was waiting. A failure marks the export failed.
 */
async function produceOne(services: DataExportServices, tenantId: string): Promise<boolean> {
  let claimedId: string | undefined;
  try {
    return await withScope(services.database.db, { tenantId }, async (transaction) => {
      const claimed = await claimRequestedExport(transaction);
      if (!claimed) return false;
      claimedId = claimed.id;
      const archive = await buildArchive(transaction, tenantId, claimed.user_id);
      const owner = { tenantId, userId: claimed.user_id, exportId: claimed.id };
      const encrypted = encryptArchive(services.config.authentication.mfaEncryptionKeys, owner, archive);
      await markExportReady(transaction, {
        id: claimed.id,
        sizeBytes: Buffer.byteLength(archive),
        sha256: createHash('sha256').update(archive).digest('hex'),
        ciphertext: encrypted.ciphertext,
        keyId: encrypted.keyId,
        expiresAt: new Date(Date.now() + exportRetentionMs),
      });
      return true;
    });
  } catch (error) {
    const id = claimedId;
    if (id === undefined) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    await withScope(services.database.db, { tenantId }, (transaction) =>
      markExportFailed(transaction, id, reason),
    );
    return true;
  }
}

/**
 * The background job: in every tenant, produces the waiting exports (a few per run) and drops the
 * archives past their retention. Safe to run in several processes at once (skip locked claims).
 */
export async function produceDataExports(services: DataExportServices): Promise<number> {
  let produced = 0;
  for (const tenant of await listTenantIds(services.database.db)) {
    for (let run = 0; run < exportsPerRunMax; run += 1) {
      if (!(await produceOne(services, tenant.id))) break;
      produced += 1;
    }
    await withScope(services.database.db, { tenantId: tenant.id }, (transaction) =>
      expireExports(transaction, new Date()),
    );
  }
  return produced;
}
