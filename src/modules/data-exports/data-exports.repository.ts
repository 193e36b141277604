import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

/** The data export queries (data-exports.service.ts); a customer's reads run under their own scope. */

/** The user row locked while a request is decided: two concurrent requests are counted one by one. */
export async function lockRequester(transaction: ScopedTransaction, userId: string) {
  return transaction
    .selectFrom('users')
    .select(['id', 'role', 'deleted_at'])
    .where('id', '=', userId)
    .forUpdate()
    .executeTakeFirst();
}

export async function countExportsSince(transaction: ScopedTransaction, userId: string, since: Date) {
  const row = await transaction
    .selectFrom('data_exports')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('user_id', '=', userId)
    .where('requested_at', '>=', since)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export async function hasPendingExport(transaction: ScopedTransaction, userId: string) {
  const row = await transaction
    .selectFrom('data_exports')
    .select('id')
    .where('user_id', '=', userId)
    .where('status', 'in', ['requested', 'running'])
    .executeTakeFirst();
  return row !== undefined;
}

export async function insertExportRequest(transaction: ScopedTransaction, tenantId: string, userId: string) {
  return transaction
    .insertInto('data_exports')
    .values({ tenant_id: tenantId, user_id: userId })
    .returning(['id', 'status', 'requested_at'])
    .executeTakeFirstOrThrow();
}

const statusColumns = [
  'id',
  'status',
  'requested_at',
  'completed_at',
  'expires_at',
  'size_bytes',
  'sha256',
] as const;

export async function findExport(transaction: ScopedTransaction, userId: string, exportId: string) {
  return transaction
    .selectFrom('data_exports')
    .select([...statusColumns, 'archive_ciphertext', 'archive_key_id'])
    .where('user_id', '=', userId)
    .where('id', '=', exportId)
    .executeTakeFirst();
}

export async function listTenantIds(db: Kysely<Database>) {
  return db.selectFrom('tenants').select('id').orderBy('id').execute();
}

/**
 * Claims the oldest requested export of the tenant: `skip locked`, so a second process running the
 * job at the same moment claims the next one (or none) instead of producing this one twice.
 */
export async function claimRequestedExport(transaction: ScopedTransaction) {
  return transaction
    .selectFrom('data_exports')
    .select(['id', 'user_id', 'requested_at'])
    .where('status', '=', 'requested')
    .orderBy('requested_at')
    .limit(1)
    .forUpdate()
    .skipLocked()
    .executeTakeFirst();
}

export async function markExportReady(
  transaction: ScopedTransaction,
  ready: {
    id: string;
    sizeBytes: number;
    sha256: string;
    ciphertext: string;
    keyId: string;
    expiresAt: Date;
  },
) {
  await transaction
    .updateTable('data_exports')
    .set({
      status: 'ready',
      completed_at: new Date(),
      expires_at: ready.expiresAt,
      size_bytes: ready.sizeBytes,
      sha256: ready.sha256,
      archive_ciphertext: ready.ciphertext,
      archive_key_id: ready.keyId,
    })
    .where('id', '=', ready.id)
    .execute();
}

export async function markExportFailed(transaction: ScopedTransaction, id: string, reason: string) {
  await transaction
    .updateTable('data_exports')
    .set({ status: 'failed', completed_at: new Date(), failure_reason: reason.slice(0, 255) })
    .where('id', '=', id)
    .execute();
}

/** Expired archives are dropped: the row (status, digest) stays, the content goes. */
export async function expireExports(transaction: ScopedTransaction, now: Date): Promise<number> {
  const result = await transaction
    .updateTable('data_exports')
    .set({ status: 'expired', archive_ciphertext: null, archive_key_id: null })
    .where('status', '=', 'ready')
    .where('expires_at', '<=', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

// ---- The archive's categories: each reads one kind of the customer's rows, secrets left out. ----

export async function readProfile(transaction: ScopedTransaction, userId: string) {
  const user = await transaction
    .selectFrom('users')
    .select([
      'id',
      'role',
      'username',
      'email',
      'phone',
      'name',
      'first_name',
      'last_name',
      'mother_name',
      'avatar',
      'status',
      'is_verified',
      'email_verified_at',
      'kyc_tier',
      'mfa_enabled',
      'last_login_at',
      'last_login_ip',
      'created_at',
      'updated_at',
    ])
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
  const profile = await transaction
    .selectFrom('user_profiles')
    .select(['tags', 'metadata', 'created_at', 'updated_at'])
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return { user, profile: profile ?? null };
}

export async function readAccounts(transaction: ScopedTransaction, userId: string) {
  return transaction
    .selectFrom('bank_accounts')
    .select([
      'id',
      'account_number',
      'account_name',
      'bank_name',
      'bank_code',
      'account_type',
      'is_active',
      'is_primary',
      'created_at',
    ])
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .execute();
}

export async function readWallets(transaction: ScopedTransaction, userId: string) {
  return transaction
    .selectFrom('wallets')
    .select(['id', 'asset_code', 'account_number', 'kind', 'balance', 'locked', 'created_at'])
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .execute();
}

/** The statement: every ledger entry of the customer's wallets, oldest first (bounded). */
export async function readStatement(transaction: ScopedTransaction, userId: string, rowsMax: number) {
  return transaction
    .selectFrom('transactions')
    .select([
      'id',
      'wallet_id',
      'asset_code',
      'entry_sequence',
      'type',
      'amount',
      'balance_before',
      'balance_after',
      'status',
      'description',
      'created_at',
    ])
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('id')
    .limit(rowsMax)
    .execute();
}

export async function readSessions(transaction: ScopedTransaction, userId: string, rowsMax: number) {
  return transaction
    .selectFrom('device_sessions')
    .select([
      'id',
      'device_type',
      'device_id',
      'device_name',
      'provider',
      'ip_address',
      'user_agent',
      'location',
      'is_active',
      'last_activity_at',
      'logout_reason',
      'logout_at',
      'created_at',
    ])
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .limit(rowsMax)
    .execute();
}

export async function readLoginHistory(transaction: ScopedTransaction, userId: string, rowsMax: number) {
  return transaction
    .selectFrom('login_audits')
    .select([
      'id',
      'login_type',
      'status',
      'ip_address',
      'user_agent',
      'device_info',
      'failure_reason',
      'created_at',
    ])
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .limit(rowsMax)
    .execute();
}

export async function readAuditEntries(transaction: ScopedTransaction, userId: string, rowsMax: number) {
  return transaction
    .selectFrom('audit_logs')
    .select([
      'id',
      'event_type',
      'event_status',
      'entity_type',
      'entity_id',
      'action',
      'old_values',
      'new_values',
      'ip_address',
      'user_agent',
      'api_endpoint',
      'request_method',
      'status_code',
      'created_at',
    ])
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .limit(rowsMax)
    .execute();
}

export async function readKycRecords(transaction: ScopedTransaction, userId: string) {
  return transaction
    .selectFrom('kyc_records')
    .select([
      'id',
      'tier_level',
      'status',
      'document_type',
      'document_country',
      'verification_data',
      'rejection_reason',
      'submitted_at',
      'reviewed_at',
      'approved_at',
      'expires_at',
    ])
    .where('user_id', '=', userId)
    .orderBy('submitted_at')
    .execute();
}

export async function readConsents(transaction: ScopedTransaction, userId: string) {
  return transaction
    .selectFrom('consents')
    .select(['id', 'purpose', 'document_version', 'recipient', 'granted_at', 'withdrawn_at', 'superseded_at'])
    .where('user_id', '=', userId)
    .orderBy('granted_at')
    .execute();
}
