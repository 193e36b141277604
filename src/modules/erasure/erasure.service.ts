import type { Config } from '../../config/config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { attestErasure, computeRowHash } from '../../platform/audit/audit-hash.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { verifyCurrentPin } from '../identity/pin-change.service.ts';
import { userHasLegalHold } from '../legal-holds/legal-holds.repository.ts';
import { recordSecurityEvent } from '../security-events/security-events.service.ts';
import { endSessions } from '../sessions/sessions.service.ts';
import {
  anonymizeAnonymousLogs,
  anonymizeDevices,
  anonymizeLogs,
  anonymizeRecords,
  anonymizeUserRow,
  deleteUnownedTraces,
  eraseAuditRow,
  findClientTraces,
  hasWithdrawalInFlight,
  holdAuditSealLock,
  insertAuditErasure,
  insertUserErasure,
  listAuditRowsOfUser,
  listSecurityEventTexts,
  listSessionLogDetails,
  lockUserForErasure,
  lockWalletBalances,
  updateSecurityEventTexts,
  updateSessionLogDetails,
} from './erasure.repository.ts';
import { type PersonalValues, scrubPersonalValues } from './personal-values.ts';

/**
 * Erasure of a customer's personal data (issue 11 item 5, GDPR article 17): anonymized in place, in one
 * transaction under the user's row lock. The ledger keeps every entry and amount (it is never
 * touched); the audit chain stays verifiable through the erasure attestations (docs/security.md).
 */
export interface ErasureServices {
  config: Config;
  database: DatabaseHandle;
}

/** What replaces the name (users.name and bank account names must hold text). */
const erasedLabel = 'Erased customer';

export interface ErasureResult {
  erasure_id: string;
  user_id: string;
  sessions_ended: number;
  audit_entries_erased: number;
}

/** POST /v1/me/erasure: the customer re-proves their PIN, then their own account is erased. */
export async function eraseOwnAccount(
  services: ErasureServices,
  principal: Principal,
  context: AuditContext,
  pin: string,
): Promise<ErasureResult> {
  // Re-authentication as the PIN change does it: a wrong PIN counts as a failed login (lockout).
  if (principal.isStaff) throw new AppError('INVALID_CREDENTIALS');
  await verifyCurrentPin(services, context, principal.userId, pin);
  return eraseCustomer(services, context, principal.userId, undefined);
}

/** POST /v1/admin/users/{id}/erasure: staff with compliance:manage erase a customer. */
export async function eraseCustomerByStaff(
  services: ErasureServices,
  principal: Principal,
  context: AuditContext,
  userId: string,
): Promise<ErasureResult> {
  return eraseCustomer(services, context, userId, principal.userId);
}

/** The erasure's own rows name no client trace of the customer: the request came from them. */
function withoutClient(context: AuditContext, adminId: string | undefined): AuditContext {
  if (adminId !== undefined) return context;
  return {
    ...context,
    ipAddress: undefined,
    userAgent: undefined,
    deviceFingerprint: undefined,
    location: undefined,
  };
}

async function eraseCustomer(
  services: ErasureServices,
  requestContext: AuditContext,
  userId: string,
  adminId: string | undefined,
): Promise<ErasureResult> {
  const tenantId = requestContext.tenantId;
  const context = { ...withoutClient(requestContext, adminId), userId };
  return withScope(services.database.db, { tenantId }, async (transaction) => {
    const values = await assertErasable(transaction, userId);
    const erasureId = await insertUserErasure(transaction, { tenantId, userId, adminId });
    const ended = await endSessions(transaction, { tenantId, userId, reason: 'forced', context });
    await anonymizeUserRow(transaction, userId, erasedLabel);
    await anonymizeDevices(transaction, userId);
    await anonymizeLogs(transaction, userId);
    await anonymizeRecords(transaction, userId, erasedLabel);
    await deleteUnownedTraces(transaction, userId, values.phone, values.addresses);
    await anonymizeAnonymousLogs(transaction, values.addresses, values.agents);
    await scrubLogTexts(transaction, userId, values);
    const auditEntries = await eraseAuditRows(
      services.config,
      transaction,
      { tenantId, userId, erasureId },
      values,
    );
    const requestedBy = adminId === undefined ? 'customer' : 'staff';
    await recordAudit(transaction, context, {
      entityType: 'user',
      entityId: userId,
      action: 'ERASE_PERSONAL_DATA',
      newValues: { erasure_id: erasureId, requested_by: requestedBy, audit_entries_erased: auditEntries },
    });
    await recordSecurityEvent(transaction, context, {
      type: 'ACCOUNT_DELETION_REQUESTED',
      userId,
      description: `The personal data of the account was erased (requested by the ${requestedBy}).`,
      details: { erasure_id: erasureId, requested_by: requestedBy, sessions_ended: ended.length },
      targetResource: `user:${userId}`,
    });
    return {
      erasure_id: erasureId,
      user_id: userId,
      sessions_ended: ended.length,
      audit_entries_erased: auditEntries,
    };
  });
}

/**
 * The refusals, decided under the user's and the wallets' row locks (no posting or withdrawal can
 * start between the check and the commit). Returns the personal values to scrub.
 */
async function assertErasable(transaction: ScopedTransaction, userId: string): Promise<PersonalValues> {
  const user = await lockUserForErasure(transaction, userId);
  if (user?.role !== 'customer') throw new AppError('NOT_FOUND');
  if (user.deleted_at !== null) throw new AppError('ERASURE_ALREADY_DONE');
  if (await userHasLegalHold(transaction, userId, new Date())) throw new AppError('LEGAL_HOLD_ACTIVE');
  const wallets = await lockWalletBalances(transaction, userId);
  const holding = wallets.filter((wallet) => wallet.balance !== 0 || wallet.locked !== 0);
  if (holding.length > 0) {
    throw new AppError(
      'ERASURE_BALANCE_NOT_ZERO',
      undefined,
      holding.map((wallet) => ({ field: wallet.asset_code, reason: 'balance is not zero' })),
    );
  }
  if (await hasWithdrawalInFlight(transaction, userId)) throw new AppError('ERASURE_WITHDRAWAL_PENDING');
  const traces = await findClientTraces(transaction, userId, user.phone);
  const texts = [
    user.name,
    user.username,
    user.email,
    user.phone,
    user.first_name,
    user.last_name,
    user.mother_name,
    user.avatar,
    ...traces.agents,
  ];
  return {
    phone: user.phone,
    agents: traces.agents,
    addresses: [...new Set([...traces.addresses, ...(user.last_login_ip ? [user.last_login_ip] : [])])],
    texts: texts.filter((text): text is string => text !== null && text.length >= 3),
  };
}

/** Free text and JSON in the logs that may repeat a personal value (a name in a description). */
async function scrubLogTexts(transaction: ScopedTransaction, userId: string, values: PersonalValues) {
  for (const row of await listSecurityEventTexts(transaction, userId)) {
    const scrubbed = {
      ...row,
      description: scrubPersonalValues(row.description, values),
      details: scrubPersonalValues(row.details, values),
      metadata: scrubPersonalValues(row.metadata, values),
    };
    if (JSON.stringify(scrubbed) !== JSON.stringify(row))
      await updateSecurityEventTexts(transaction, scrubbed);
  }
  for (const row of await listSessionLogDetails(transaction, userId)) {
    const details = scrubPersonalValues(row.details, values);
    if (JSON.stringify(details) !== JSON.stringify(row.details)) {
      await updateSessionLogDetails(transaction, { ...row, details });
    }
  }
}

/**
 * Erases the personal fields of every audit row about the user. A sealed row is first proved intact
 * (its content still hashes to its row_hash: erasure must not launder a tampered row), then rewritten,
 * then attested (audit-hash.ts attestErasure) so `audit verify` accepts its new content and nothing
 * else. Unsealed rows are rewritten before the sealer sees them (it waits on the seal lock).
 */
async function eraseAuditRows(
  config: Config,
  transaction: ScopedTransaction,
  erasure: { tenantId: string; userId: string; erasureId: string },
  values: PersonalValues,
): Promise<number> {
  await holdAuditSealLock(transaction, erasure.tenantId);
  const rows = await listAuditRowsOfUser(transaction, erasure.userId, values.addresses, values.agents);
  for (const row of rows) {
    const sealed = row.row_hash !== null && row.previous_hash !== null && row.chain_sequence !== null;
    if (
      sealed &&
      computeRowHash(row.previous_hash ?? '', row.chain_sequence ?? 0, row.canonical) !== row.row_hash
    ) {
      throw new AppError('ERASURE_AUDIT_ROW_ALTERED', undefined, [{ reason: `audit row ${row.id}` }]);
    }
    const canonical = await eraseAuditRow(transaction, {
      id: row.id,
      createdAtText: row.created_at_text,
      clientFields: row.admin_id === null,
      oldValues: scrubPersonalValues(row.old_values, values),
      newValues: scrubPersonalValues(row.new_values, values),
      details: scrubPersonalValues(row.details, values),
    });
    if (!sealed || row.row_hash === null) continue;
    await insertAuditErasure(transaction, {
      tenantId: erasure.tenantId,
      auditLogId: row.id,
      erasureId: erasure.erasureId,
      rowHash: row.row_hash,
      attestation: attestErasure(config.auditHmacKey, row.row_hash, canonical),
      keyId: config.auditHmacKeyId,
    });
  }
  return rows.length;
}
