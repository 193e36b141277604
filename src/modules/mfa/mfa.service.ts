import type { Kysely } from 'kysely';
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
import { recordCredentialChange } from '../security-events/security-events.service.ts';
import { scopeOf } from '../sessions/sessions.service.ts';
import {
  clearMfa,
  deleteTrustedDevice,
  enableMfa,
  findMfaUserForUpdate,
  findSecretsUnderOtherKeys,
  listTenantIds,
  listUserTrustedDevices,
  markSessionMfaVerified,
  updateTotpSecretCiphertext,
} from './mfa.repository.ts';
import { checkSecondFactor, checkTotp, regenerateBackupCodes, storeTotpSecret } from './second-factor.ts';
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

type MfaUserRow = Awaited<ReturnType<typeof findMfaUserForUpdate>>;

async function loadMfaUser(transaction: ScopedTransaction, principal: Principal): Promise<MfaUserRow> {
  return findMfaUserForUpdate(transaction, principal.userId);
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
    await enableMfa(transaction, principal.userId);
    // This session has just proven the second factor.
    await markSessionMfaVerified(transaction, principal.sessionId);
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
    await recordCredentialChange(transaction, context, {
      type: 'MFA_ENABLED',
      userId: principal.userId,
      description: 'Two-factor authentication (TOTP) was turned on.',
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
    await clearMfa(transaction, principal.userId);
    await recordAudit(transaction, context, {
      entityType: 'user',
      entityId: principal.userId,
      action: 'MFA_DISABLE',
      eventType: 'SECURITY',
      newValues: { mfa_enabled: false },
    });
    await recordCredentialChange(transaction, context, {
      type: 'MFA_DISABLED',
      userId: principal.userId,
      description: 'Two-factor authentication was turned off after re-authentication.',
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
    await recordCredentialChange(transaction, context, {
      type: 'MFA_BACKUP_CODES_REGENERATED',
      userId: principal.userId,
      description: 'Ten new backup codes replaced the old ones.',
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
    listUserTrustedDevices(transaction, principal.userId),
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
    if (!(await deleteTrustedDevice(transaction, principal.userId, deviceId)))
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
  const tenants = await listTenantIds(db);
  for (const tenant of tenants) {
    moved += await withScope(db, { tenantId: tenant.id }, async (transaction) => {
      const rows = await findSecretsUnderOtherKeys(transaction, currentKeyId);
      for (const row of rows) {
        if (!row.mfa_secret_ciphertext || !row.mfa_secret_key_id) continue;
        const secret = decryptSecret(keys, tenant.id, row.id, {
          ciphertext: row.mfa_secret_ciphertext,
          keyId: row.mfa_secret_key_id,
        });
        const encrypted = encryptSecret(keys, tenant.id, row.id, secret);
        await updateTotpSecretCiphertext(transaction, row.id, encrypted);
      }
      return rows.length;
    });
  }
  return moved;
}
