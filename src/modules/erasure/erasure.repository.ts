import { sql } from 'kysely';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { canonicalRowSql } from '../../platform/audit/audit-hash.ts';

/**
 * The erasure's queries (erasure.service.ts). Every function runs in the erasure's one transaction,
 * scoped to the tenant, and names the user it acts on.
 */

/** The user row, locked for the whole erasure: a concurrent login, transfer or second erasure waits. */
export async function lockUserForErasure(transaction: ScopedTransaction, userId: string) {
  return transaction
    .selectFrom('users')
    .select([
      'id',
      'role',
      'name',
      'username',
      'email',
      'phone',
      'first_name',
      'last_name',
      'mother_name',
      'avatar',
      'deleted_at',
    ])
    .select(sql<string | null>`host(last_login_ip)`.as('last_login_ip'))
    .where('id', '=', userId)
    .forUpdate()
    .executeTakeFirst();
}

/** The user's wallets, locked: no posting can change a balance between this check and the commit. */
export async function lockWalletBalances(transaction: ScopedTransaction, userId: string) {
  return transaction
    .selectFrom('wallets')
    .select(['id', 'asset_code', 'balance', 'locked'])
    .where('user_id', '=', userId)
    .orderBy('id')
    .forUpdate()
    .execute();
}

export async function hasWithdrawalInFlight(
  transaction: ScopedTransaction,
  userId: string,
): Promise<boolean> {
  const row = await transaction
    .selectFrom('operations')
    .select('id')
    .where('user_id', '=', userId)
    .where('operation_type', '=', 'withdrawal')
    .where('status', 'in', ['pending', 'processing'])
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Every network address and user agent the user's rows hold, from every table that records them:
 * the values to scrub wherever else they were copied (JSON details, rate-limit rows).
 */
export async function findClientTraces(transaction: ScopedTransaction, userId: string, phone: string | null) {
  const addresses = await sql<{ value: string }>`
    select distinct host(ip) as value from (
      select ip_address as ip from device_sessions where user_id = ${userId}
      union all select ip_address from refresh_tokens where user_id = ${userId}
      union all select ip_address from login_audits where user_id = ${userId}
      union all select ip_address from session_logs where user_id = ${userId}
      union all select ip_address from security_events where user_id = ${userId}
      union all select ip_address from api_access_log where user_id = ${userId}
      union all select ip_address from audit_logs
        where admin_id is null and (user_id = ${userId} or (entity_type = 'user' and entity_id = ${userId}))
      union all select ip_address from rate_limit_entries where user_id = ${userId}
      union all select last_ip_address from trusted_devices where user_id = ${userId}
      union all select last_login_ip from users where id = ${userId}
      union all select ip_address from otp_sessions where phone = ${phone}
    ) traces where ip is not null`.execute(transaction);
  const agents = await sql<{ value: string }>`
    select distinct agent as value from (
      select user_agent as agent from device_sessions where user_id = ${userId}
      union all select user_agent from refresh_tokens where user_id = ${userId}
      union all select user_agent from login_audits where user_id = ${userId}
      union all select user_agent from session_logs where user_id = ${userId}
      union all select user_agent from security_events where user_id = ${userId}
      union all select user_agent from api_access_log where user_id = ${userId}
      union all select user_agent from audit_logs
        where admin_id is null and (user_id = ${userId} or (entity_type = 'user' and entity_id = ${userId}))
      union all select user_agent from otp_sessions where phone = ${phone}
    ) traces where agent is not null and agent <> ''`.execute(transaction);
  return { addresses: addresses.rows.map((row) => row.value), agents: agents.rows.map((row) => row.value) };
}

/** Records the erasure; from here on, in this transaction, the log guards let this user's rows change. */
export async function insertUserErasure(
  transaction: ScopedTransaction,
  erasure: { tenantId: string; userId: string; adminId: string | undefined },
): Promise<string> {
  const row = await transaction
    .insertInto('user_erasures')
    .values({
      tenant_id: erasure.tenantId,
      user_id: erasure.userId,
      requested_by: erasure.adminId === undefined ? 'customer' : 'staff',
      admin_id: erasure.adminId ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** The account closed and every personal column of the user row emptied (name is required: a label). */
export async function anonymizeUserRow(transaction: ScopedTransaction, userId: string, label: string) {
  await transaction
    .updateTable('users')
    .set({
      name: label,
      username: null,
      email: null,
      phone: null,
      first_name: null,
      last_name: null,
      mother_name: null,
      avatar: null,
      last_login_ip: null,
      mfa_enabled: false,
      mfa_secret_ciphertext: null,
      mfa_secret_key_id: null,
      status: 0,
      deleted_at: new Date(),
    })
    .where('id', '=', userId)
    .execute();
  await transaction
    .updateTable('user_profiles')
    .set({ tags: [], metadata: '{}' })
    .where('user_id', '=', userId)
    .execute();
}

/** Device data, addresses and user agents of the user's sessions, tokens and devices. */
export async function anonymizeDevices(transaction: ScopedTransaction, userId: string) {
  await transaction
    .updateTable('device_sessions')
    .set({
      device_id: null,
      device_name: null,
      device_fingerprint: null,
      provider_id: null,
      ip_address: null,
      user_agent: null,
      location: null,
    })
    .where('user_id', '=', userId)
    .execute();
  await transaction
    .updateTable('refresh_tokens')
    .set({ device_fingerprint: null, ip_address: null, user_agent: null })
    .where('user_id', '=', userId)
    .execute();
  await transaction.deleteFrom('trusted_devices').where('user_id', '=', userId).execute();
  await transaction.deleteFrom('mfa_backup_codes').where('user_id', '=', userId).execute();
}

/** The append-only logs (sanctioned by the user_erasures row of this transaction, migration 0021). */
export async function anonymizeLogs(transaction: ScopedTransaction, userId: string) {
  await transaction
    .updateTable('login_audits')
    .set({ ip_address: null, user_agent: null, device_info: null })
    .where('user_id', '=', userId)
    .execute();
  await transaction
    .updateTable('session_logs')
    .set({ ip_address: null, user_agent: null, device_info: null })
    .where('user_id', '=', userId)
    .execute();
  await transaction
    .updateTable('api_access_log')
    .set({ ip_address: null, user_agent: null, request_headers: null })
    .where('user_id', '=', userId)
    .execute();
  await transaction
    .updateTable('security_events')
    .set({ ip_address: null, user_agent: null, device_fingerprint: null, geolocation: null })
    .where('user_id', '=', userId)
    .execute();
}

/**
 * Log rows attributed to no one (the steps of a login before the user is known) from the user's
 * addresses or user agents: their client fields are emptied too.
 */
export async function anonymizeAnonymousLogs(
  transaction: ScopedTransaction,
  addresses: readonly string[],
  agents: readonly string[],
) {
  const fromClient = sql<boolean>`(host(ip_address) = any(${[...addresses]}::text[])
    or user_agent = any(${[...agents]}::text[]))`;
  await transaction
    .updateTable('api_access_log')
    .set({ ip_address: null, user_agent: null, request_headers: null })
    .where('user_id', 'is', null)
    .where(fromClient)
    .execute();
  await transaction
    .updateTable('login_audits')
    .set({ ip_address: null, user_agent: null, device_info: null })
    .where('user_id', 'is', null)
    .where(fromClient)
    .execute();
}

/** Rows that hold the user's phone or addresses without naming the user: deleted (transient). */
export async function deleteUnownedTraces(
  transaction: ScopedTransaction,
  userId: string,
  phone: string | null,
  addresses: readonly string[],
) {
  if (phone !== null) await transaction.deleteFrom('otp_sessions').where('phone', '=', phone).execute();
  const inAddresses = sql<boolean>`host(ip_address) = any(${[...addresses]}::text[])`;
  await transaction
    .deleteFrom('rate_limit_entries')
    .where((eb) => eb.or([eb('user_id', '=', userId), inAddresses]))
    .execute();
  await transaction
    .deleteFrom('rate_limit_violations')
    .where((eb) => eb.or([eb('user_id', '=', userId), inAddresses]))
    .execute();
}

/** KYC documents, linked bank accounts, photos and data exports of the user. */
export async function anonymizeRecords(transaction: ScopedTransaction, userId: string, label: string) {
  await transaction
    .updateTable('kyc_records')
    .set({ document_number_hash: null, verification_data: '{}', rejection_reason: null })
    .where('user_id', '=', userId)
    .execute();
  // An account number must be digits (migration 0003): zeros keep the row, name no account.
  await transaction
    .updateTable('bank_accounts')
    .set({ account_number: '00000000', account_name: label, is_active: false, is_primary: false })
    .where('user_id', '=', userId)
    .execute();
  await transaction.deleteFrom('photos').where('user_id', '=', userId).execute();
  await transaction.deleteFrom('data_exports').where('user_id', '=', userId).execute();
}

/** Rows whose free text or JSON may repeat a personal value: scrubbed one by one by the service. */
export async function listSecurityEventTexts(transaction: ScopedTransaction, userId: string) {
  return transaction
    .selectFrom('security_events')
    .select(['id', 'created_at', 'description', 'details', 'metadata'])
    .where('user_id', '=', userId)
    .execute();
}

export async function updateSecurityEventTexts(
  transaction: ScopedTransaction,
  row: { id: string; created_at: Date; description: string | null; details: unknown; metadata: unknown },
) {
  await transaction
    .updateTable('security_events')
    .set({
      description: row.description,
      details: JSON.stringify(row.details),
      metadata: JSON.stringify(row.metadata),
    })
    .where('id', '=', row.id)
    .where('created_at', '=', row.created_at)
    .execute();
}

export async function listSessionLogDetails(transaction: ScopedTransaction, userId: string) {
  return transaction
    .selectFrom('session_logs')
    .select(['id', 'created_at', 'details'])
    .where('user_id', '=', userId)
    .execute();
}

export async function updateSessionLogDetails(
  transaction: ScopedTransaction,
  row: { id: string; created_at: Date; details: unknown },
) {
  await transaction
    .updateTable('session_logs')
    .set({ details: JSON.stringify(row.details) })
    .where('id', '=', row.id)
    .where('created_at', '=', row.created_at)
    .execute();
}

/**
 * Holds the tenant's audit-seal lock until the erasure commits: the sealer (which only tries the lock)
 * cannot seal a row from content read before the erasure rewrote it.
 */
export async function holdAuditSealLock(transaction: ScopedTransaction, tenantId: string) {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`corebank.audit-seal.${tenantId}`}, 0))`.execute(
    transaction,
  );
  // The canonical form is rendered in UTC, as the sealer and the verifier render it (audit-hash.ts).
  await sql`select set_config('TimeZone', 'UTC', true)`.execute(transaction);
}

export interface AuditRowForErasure {
  id: string;
  created_at_text: string;
  admin_id: string | null;
  chain_sequence: number | null;
  previous_hash: string | null;
  row_hash: string | null;
  old_values: unknown;
  new_values: unknown;
  details: unknown;
  canonical: string;
}

/**
 * The audit rows about the user (theirs, or naming them as the entity), and the anonymous rows from
 * their addresses or user agents (the first steps of a login), with the canonical form the sealer hashed.
 */
export async function listAuditRowsOfUser(
  transaction: ScopedTransaction,
  userId: string,
  addresses: readonly string[],
  agents: readonly string[],
) {
  const rows = await sql<AuditRowForErasure>`
    select a.id, a.created_at::text as created_at_text, a.admin_id, a.chain_sequence::int as chain_sequence,
           a.previous_hash, a.row_hash, a.old_values, a.new_values, a.details,
           ${sql.raw(canonicalRowSql)} as canonical
    from audit_logs a
    where a.user_id = ${userId} or (a.entity_type = 'user' and a.entity_id = ${userId})
      or (a.user_id is null and a.admin_id is null and a.entity_type <> 'user'
          and (host(a.ip_address) = any(${[...addresses]}::text[]) or a.user_agent = any(${[...agents]}::text[])))
    order by a.created_at, a.id`.execute(transaction);
  return rows.rows;
}

/**
 * Erases the personal fields of one audit row and returns its canonical form afterwards. The client
 * columns are emptied only on rows the customer made (a staff member's own address stays on theirs).
 */
export async function eraseAuditRow(
  transaction: ScopedTransaction,
  row: {
    id: string;
    createdAtText: string;
    clientFields: boolean;
    oldValues: unknown;
    newValues: unknown;
    details: unknown;
  },
): Promise<string> {
  const json = (value: unknown) => (value === null ? null : JSON.stringify(value));
  const result = await sql<{ canonical: string }>`
    update audit_logs a
    set old_values = ${json(row.oldValues)}::jsonb, new_values = ${json(row.newValues)}::jsonb,
        details = ${JSON.stringify(row.details ?? {})}::jsonb,
        ip_address = case when ${row.clientFields} then null else a.ip_address end,
        user_agent = case when ${row.clientFields} then null else a.user_agent end,
        device_fingerprint = case when ${row.clientFields} then null else a.device_fingerprint end,
        location = case when ${row.clientFields} then null else a.location end
    where a.id = ${row.id} and a.created_at = ${row.createdAtText}::timestamptz
    returning ${sql.raw(canonicalRowSql)} as canonical`.execute(transaction);
  const updated = result.rows[0];
  if (!updated) throw new Error(`audit row ${row.id} vanished during erasure`);
  return updated.canonical;
}

export async function insertAuditErasure(
  transaction: ScopedTransaction,
  erasure: {
    tenantId: string;
    auditLogId: string;
    erasureId: string;
    rowHash: string;
    attestation: string;
    keyId: string;
  },
) {
  await transaction
    .insertInto('audit_erasures')
    .values({
      tenant_id: erasure.tenantId,
      audit_log_id: erasure.auditLogId,
      erasure_id: erasure.erasureId,
      row_hash: erasure.rowHash,
      attestation: erasure.attestation,
      signing_key_id: erasure.keyId,
    })
    .execute();
}
