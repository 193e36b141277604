import { type Kysely, sql } from 'kysely';
import QRCode from 'qrcode';
import type { Config } from '../../config/config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import type { Database } from '../../db/schema.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { verifyPassword } from '../identity/credential-hashing.ts';
import {
  answerRefusal,
  type DecidedAttempt,
  decideAttemptIn,
  type LoginAttempt,
  recordFailureAlone,
} from '../identity/login-attempts.ts';
import { scopeOf } from '../sessions/sessions.service.ts';
import {
  checkSecondFactor,
  checkTotp,
  type MfaUser,
  regenerateBackupCodes,
  storeTotpSecret,
} from './second-factor.ts';
import { decryptSecret, encryptSecret } from './secret-encryption.ts';
import { newTotpSecret, totpUri } from './totp.ts';

/**
 * TOTP enrolment and management (seed 003): enrol (secret, otpauth URI, QR code), confirm with a first
 * code (which turns MFA on and issues ten backup codes), regenerate backup codes and disable, both
 * after re-authentication, and the trusted devices list.
 */
export interface MfaServices {
  config: Config;
  database: DatabaseHandle;
}

export const totpIssuer = 'Corebank';

interface MfaUserRow extends MfaUser {
  email: string | null;
  phone: string | null;
  role: string;
  password_hash: string | null;
  failed_login_attempts: number;
  lockout_count: number;
  locked_until: Date | null;
}

async function loadMfaUser(transaction: ScopedTransaction, principal: Principal): Promise<MfaUserRow> {
  return (await transaction
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
    .where('id', '=', principal.userId)
    .forUpdate()
    .executeTakeFirstOrThrow()) as MfaUserRow;
}

export interface Enrolment {
  secret: string;
  otpauthUri: string;
  qrCodeDataUrl: string;
}

/** POST /v1/me/mfa/totp/enroll: a new pending secret (MFA stays off until confirmed). */
export async function enrolTotp(
  services: MfaServices,
  principal: Principal,
  context: AuditContext,
): Promise<Enrolment> {
  const secret = newTotpSecret();
  const label = await withScope(services.database.db, scopeOf(principal), async (transaction) => {
    const user = await loadMfaUser(transaction, principal);
    if (user.mfa_enabled) throw new AppError('MFA_ALREADY_ENABLED');
    await storeTotpSecret(transaction, services.config, principal.tenantId, principal.userId, secret, false);
    await recordAudit(transaction, context, {
      entityType: 'user',
      entityId: principal.userId,
      action: 'MFA_ENROL',
      eventType: 'SECURITY',
    });
    return user.email ?? user.phone ?? principal.userId;
  });
  const otpauthUri = totpUri(secret, label, totpIssuer);
  return {
    secret,
    otpauthUri,
    qrCodeDataUrl: await QRCode.toDataURL(otpauthUri, { errorCorrectionLevel: 'M' }),
  };
}

/** POST /v1/me/mfa/totp/confirm: the first code turns MFA on; returns the ten backup codes (shown once). */
export async function confirmTotp(
  services: MfaServices,
  principal: Principal,
  context: AuditContext,
  code: string,
): Promise<string[]> {
  return withScope(services.database.db, scopeOf(principal), async (transaction) => {
    const user = await loadMfaUser(transaction, principal);
    if (user.mfa_enabled) throw new AppError('MFA_ALREADY_ENABLED');
    if (!user.mfa_secret_ciphertext) throw new AppError('MFA_NOT_ENABLED', 'Start the enrolment first.');
    if (!(await checkTotp(transaction, services.config, user, code))) throw new AppError('MFA_INVALID');
    await transaction
      .updateTable('users')
      .set({ mfa_enabled: true })
      .where('id', '=', principal.userId)
      .execute();
    // This session has just proven the second factor.
    await transaction
      .updateTable('device_sessions')
      .set({ mfa_verified: true })
      .where('id', '=', principal.sessionId)
      .execute();
    const codes = await regenerateBackupCodes(
      transaction,
      services.config,
      principal.tenantId,
      principal.userId,
    );
    await recordAudit(transaction, context, {
      entityType: 'user',
      entityId: principal.userId,
      action: 'MFA_ENABLE',
      eventType: 'SECURITY',
      newValues: { mfa_enabled: true, backup_codes_issued: codes.length },
    });
    return codes;
  });
}

export interface Reauthentication {
  password: string;
  totp?: string | undefined;
  backup_code?: string | undefined;
}

/**
 * Re-authentication for sensitive MFA changes: the password and a current second factor, then `work`
 * in the same transaction as the second factor's use. Like every credential check, the attempt is
 * reserved against the account before anything is verified (login-attempts.ts), so a failure counts
 * like a failed login whatever happens later; the password is verified outside any transaction.
 */
async function withReauthentication<T>(
  services: MfaServices,
  principal: Principal,
  context: AuditContext,
  proof: Reauthentication,
  work: (transaction: ScopedTransaction) => Promise<T>,
): Promise<T> {
  const attemptServices = { db: services.database.db, config: services.config };
  const user = await withScope(services.database.db, scopeOf(principal), (transaction) =>
    loadMfaUser(transaction, principal),
  );
  if (!user.mfa_enabled) throw new AppError('MFA_NOT_ENABLED');
  const attempt: LoginAttempt = {
    context,
    userId: user.id,
    loginType: principal.isStaff ? 'admin_login' : 'user_login',
    method: 'password',
  };
  const passwordMatches =
    user.password_hash !== null && (await verifyPassword(user.password_hash, proof.password));
  let outcome: { value: T } | { failure: DecidedAttempt };
  try {
    outcome = await withScope(services.database.db, scopeOf(principal), async (transaction) => {
      const current = await loadMfaUser(transaction, principal);
      if (!current.mfa_enabled) throw new AppError('MFA_NOT_ENABLED');
      // Password and second factor are one credential, decided under the account's row lock; a backup
      // code is only spent once the password is known to be right.
      const decided = await decideAttemptIn(
        transaction,
        services.config,
        attempt,
        { userId: user.id },
        async () =>
          passwordMatches &&
          (await checkSecondFactor(transaction, services.config, current, proof)) === 'verified',
        false,
      );
      if (!decided.right) return { failure: decided };
      return { value: await work(transaction) };
    });
  } catch (error) {
    throw await answerRefusal(attemptServices, attempt, error);
  }
  if ('value' in outcome) return outcome.value;
  await recordFailureAlone(attemptServices, outcome.failure, 'reauthentication_failed');
  throw new AppError('INVALID_CREDENTIALS');
}

/** POST /v1/me/mfa/totp/disable. Staff cannot: MFA is mandatory for staff roles. */
export async function disableTotp(
  services: MfaServices,
  principal: Principal,
  context: AuditContext,
  proof: Reauthentication,
): Promise<void> {
  if (principal.isStaff) throw new AppError('FORBIDDEN', 'Two-factor authentication is mandatory for staff.');
  await withReauthentication(services, principal, context, proof, async (transaction) => {
    await transaction
      .updateTable('users')
      .set({
        mfa_enabled: false,
        mfa_secret_ciphertext: null,
        mfa_secret_key_id: null,
        totp_last_used_step: null,
      })
      .where('id', '=', principal.userId)
      .execute();
    await transaction.deleteFrom('mfa_backup_codes').where('user_id', '=', principal.userId).execute();
    await transaction.deleteFrom('trusted_devices').where('user_id', '=', principal.userId).execute();
    await recordAudit(transaction, context, {
      entityType: 'user',
      entityId: principal.userId,
      action: 'MFA_DISABLE',
      eventType: 'SECURITY',
      newValues: { mfa_enabled: false },
    });
  });
}

/** POST /v1/me/mfa/backup-codes: ten new codes replace every old one. */
export async function renewBackupCodes(
  services: MfaServices,
  principal: Principal,
  context: AuditContext,
  proof: Reauthentication,
): Promise<string[]> {
  return withReauthentication(services, principal, context, proof, async (transaction) => {
    const issued = await regenerateBackupCodes(
      transaction,
      services.config,
      principal.tenantId,
      principal.userId,
    );
    await recordAudit(transaction, context, {
      entityType: 'user',
      entityId: principal.userId,
      action: 'MFA_BACKUP_CODES_REGENERATE',
      eventType: 'SECURITY',
    });
    return issued;
  });
}

export interface TrustedDeviceView {
  id: string;
  device_name: string | null;
  device_type: string | null;
  trust_score: number;
  first_seen_at: string;
  last_seen_at: string;
  expires_at: string | null;
}

export async function listTrustedDevices(
  services: MfaServices,
  principal: Principal,
): Promise<TrustedDeviceView[]> {
  const rows = await withScope(services.database.db, scopeOf(principal), (transaction) =>
    transaction
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
      .where('user_id', '=', principal.userId)
      .where('is_trusted', '=', true)
      .orderBy('id', 'desc')
      .limit(100)
      .execute(),
  );
  return rows.map((row) => ({
    ...row,
    trust_score: Number(row.trust_score),
    first_seen_at: row.first_seen_at.toISOString(),
    last_seen_at: row.last_seen_at.toISOString(),
    expires_at: row.expires_at?.toISOString() ?? null,
  }));
}

export async function forgetTrustedDevice(
  services: MfaServices,
  principal: Principal,
  context: AuditContext,
  deviceId: string,
): Promise<void> {
  await withScope(services.database.db, scopeOf(principal), async (transaction) => {
    const deleted = await transaction
      .deleteFrom('trusted_devices')
      .where('id', '=', deviceId)
      .where('user_id', '=', principal.userId)
      .executeTakeFirst();
    if (Number(deleted.numDeletedRows) !== 1)
      throw new AppError('NOT_FOUND', 'No trusted device with this id.');
    await recordAudit(transaction, context, {
      entityType: 'trusted_device',
      entityId: deviceId,
      action: 'DELETE',
      eventType: 'SECURITY',
    });
  });
}

/**
 * Re-encrypts every TOTP secret stored under an older key with the current key (after MFA_ENCRYPTION_KEY
 * rotation, with the old key in MFA_PREVIOUS_ENCRYPTION_KEYS). Returns how many secrets moved.
 */
export async function reencryptMfaSecrets(db: Kysely<Database>, config: Config): Promise<number> {
  const keys = config.authentication.mfaEncryptionKeys;
  const currentKeyId = keys[0]?.id ?? '';
  let moved = 0;
  const tenants = await db.selectFrom('tenants').select('id').execute();
  for (const tenant of tenants) {
    moved += await withScope(db, { tenantId: tenant.id }, async (transaction) => {
      const rows = await transaction
        .selectFrom('users')
        .select(['id', 'mfa_secret_ciphertext', 'mfa_secret_key_id'])
        .where('mfa_secret_key_id', '!=', currentKeyId)
        .forUpdate()
        .execute();
      for (const row of rows) {
        if (!row.mfa_secret_ciphertext || !row.mfa_secret_key_id) continue;
        const secret = decryptSecret(keys, tenant.id, row.id, {
          ciphertext: row.mfa_secret_ciphertext,
          keyId: row.mfa_secret_key_id,
        });
        const encrypted = encryptSecret(keys, tenant.id, row.id, secret);
        await transaction
          .updateTable('users')
          .set({
            mfa_secret_ciphertext: encrypted.ciphertext,
            mfa_secret_key_id: encrypted.keyId,
            updated_at: sql<Date>`now()`,
          })
          .where('id', '=', row.id)
          .execute();
      }
      return rows.length;
    });
  }
  return moved;
}
