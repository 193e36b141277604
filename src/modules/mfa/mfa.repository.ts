import { type Kysely, sql } from 'kysely';
import type { Database, TrustedDeviceType } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

/**
 * The queries of the second factor (seed 003): the user's TOTP secret and last used step, backup
 * codes and trusted devices. Every function runs in the caller's scoped transaction and names the
 * tenant and user it acts for.
 */

/** The user's MFA state and credentials, locked for the change or the check that follows. */
export async function findMfaUserForUpdate(transaction: ScopedTransaction, userId: string) {
  return transaction
    .selectFrom('users')
    .select([
      'id',
      'tenant_id',
      'email',
      'phone',
      'role',
      'password_hash',
      'mfa_enabled',
      'mfa_secret_ciphertext',
      'mfa_secret_key_id',
      'totp_last_used_step',
      'failed_login_attempts',
      'lockout_count',
      'locked_until',
    ])
    .where('id', '=', userId)
    .forUpdate()
    .executeTakeFirstOrThrow();
}

/** Records the TOTP step as used, only if it is later than the stored one; true when it was. */
export async function claimTotpStep(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  step: number,
): Promise<boolean> {
  const updated = await transaction
    .updateTable('users')
    .set({ totp_last_used_step: step })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId)
    .where((eb) => eb.or([eb('totp_last_used_step', 'is', null), eb('totp_last_used_step', '<', step)]))
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1;
}

export async function updateTotpSecret(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  encrypted: { ciphertext: string; keyId: string },
  enabled: boolean,
): Promise<void> {
  await transaction
    .updateTable('users')
    .set({
      mfa_secret_ciphertext: encrypted.ciphertext,
      mfa_secret_key_id: encrypted.keyId,
      mfa_enabled: enabled,
    })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId)
    .execute();
}

/** Marks the unused backup code with this hash used; true when there was one. */
export async function useBackupCode(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  codeHash: string,
): Promise<boolean> {
  const used = await transaction
    .updateTable('mfa_backup_codes')
    .set({ used_at: sql<Date>`now()` })
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('code_hash', '=', codeHash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(used.numUpdatedRows) === 1;
}

/** Deletes every backup code of the user and stores these hashes instead. */
export async function replaceBackupCodes(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  codeHashes: string[],
): Promise<void> {
  await transaction
    .deleteFrom('mfa_backup_codes')
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .execute();
  await transaction
    .insertInto('mfa_backup_codes')
    .values(codeHashes.map((codeHash) => ({ tenant_id: tenantId, user_id: userId, code_hash: codeHash })))
    .execute();
}

/**
 * Records a visit of the trusted device with this fingerprint if it is unexpired and trusted at least
 * `trustScoreMin`; its id when it was.
 */
export async function touchTrustedDevice(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  fingerprint: string,
  ipAddress: string | null,
  trustScoreMin: number,
): Promise<string | undefined> {
  const updated = await transaction
    .updateTable('trusted_devices')
    .set({
      last_seen_at: sql<Date>`now()`,
      last_ip_address: ipAddress,
      trust_score: sql<string>`least(trust_score + 1, 100)`,
    })
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('device_fingerprint', '=', fingerprint)
    .where('is_trusted', '=', true)
    .where('expires_at', '>', sql<Date>`now()`)
    .where('trust_score', '>=', String(trustScoreMin))
    .returning('id')
    .executeTakeFirst();
  return updated?.id;
}

export interface NewTrustedDevice {
  tenantId: string;
  userId: string;
  fingerprint: string;
  deviceName: string | null;
  deviceType: TrustedDeviceType;
  ipAddress: string | null;
  trustDays: number;
}

export async function insertTrustedDevice(
  transaction: ScopedTransaction,
  device: NewTrustedDevice,
): Promise<string> {
  const inserted = await transaction
    .insertInto('trusted_devices')
    .values({
      tenant_id: device.tenantId,
      user_id: device.userId,
      device_fingerprint: device.fingerprint,
      device_name: device.deviceName,
      device_type: device.deviceType,
      last_ip_address: device.ipAddress,
      expires_at: sql<Date>`now() + make_interval(days => ${device.trustDays})`,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return inserted.id;
}

export async function enableMfa(transaction: ScopedTransaction, userId: string): Promise<void> {
  await transaction.updateTable('users').set({ mfa_enabled: true }).where('id', '=', userId).execute();
}

export async function markSessionMfaVerified(
  transaction: ScopedTransaction,
  sessionId: string,
): Promise<void> {
  await transaction
    .updateTable('device_sessions')
    .set({ mfa_verified: true })
    .where('id', '=', sessionId)
    .execute();
}

/** MFA off: the secret, the last step, every backup code and every trusted device of the user go. */
export async function clearMfa(transaction: ScopedTransaction, userId: string): Promise<void> {
  await transaction
    .updateTable('users')
    .set({
      mfa_enabled: false,
      mfa_secret_ciphertext: null,
      mfa_secret_key_id: null,
      totp_last_used_step: null,
    })
    .where('id', '=', userId)
    .execute();
  await transaction.deleteFrom('mfa_backup_codes').where('user_id', '=', userId).execute();
  await transaction.deleteFrom('trusted_devices').where('user_id', '=', userId).execute();
}

/** The user's trusted devices, newest first (at most 100). */
export async function listUserTrustedDevices(transaction: ScopedTransaction, userId: string) {
  return transaction
    .selectFrom('trusted_devices')
    .select([
      'id',
      'device_name',
      'device_type',
      'trust_score',
      'first_seen_at',
      'last_seen_at',
      'expires_at',
    ])
    .where('user_id', '=', userId)
    .where('is_trusted', '=', true)
    .orderBy('id', 'desc')
    .limit(100)
    .execute();
}

/** Deletes one of the user's trusted devices; true when it existed. */
export async function deleteTrustedDevice(
  transaction: ScopedTransaction,
  userId: string,
  deviceId: string,
): Promise<boolean> {
  const deleted = await transaction
    .deleteFrom('trusted_devices')
    .where('id', '=', deviceId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(deleted.numDeletedRows) === 1;
}

export async function listTenantIds(db: Kysely<Database>) {
  return db.selectFrom('tenants').select('id').execute();
}

/** The tenant's users whose TOTP secret is stored under another key than the current one, locked. */
export async function findSecretsUnderOtherKeys(transaction: ScopedTransaction, currentKeyId: string) {
  return transaction
    .selectFrom('users')
    .select(['id', 'mfa_secret_ciphertext', 'mfa_secret_key_id'])
    .where('mfa_secret_key_id', '!=', currentKeyId)
    .forUpdate()
    .execute();
}

export async function updateTotpSecretCiphertext(
  transaction: ScopedTransaction,
  userId: string,
  encrypted: { ciphertext: string; keyId: string },
): Promise<void> {
  await transaction
    .updateTable('users')
    .set({
      mfa_secret_ciphertext: encrypted.ciphertext,
      mfa_secret_key_id: encrypted.keyId,
      updated_at: sql<Date>`now()`,
    })
    .where('id', '=', userId)
    .execute();
}
