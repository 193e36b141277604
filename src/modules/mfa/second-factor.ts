import { randomBytes, randomInt } from 'node:crypto';
import { sql } from 'kysely';
import type { Config } from '../../config/config.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { hashSecretToken } from '../identity/credential-hashing.ts';
import { decryptSecret, encryptSecret, needsReencryption } from './secret-encryption.ts';
import { verifyTotp } from './totp.ts';

/**
 * The second factor at login: a TOTP code, a single-use backup code, or a trusted device (seed 003).
 * Every function runs inside the caller's transaction and scope.
 */
export interface MfaUser {
  id: string;
  tenant_id: string;
  mfa_enabled: boolean;
  mfa_secret_ciphertext: string | null;
  mfa_secret_key_id: string | null;
  totp_last_used_step: number | null;
}

export interface SecondFactorInput {
  totp?: string | undefined;
  backup_code?: string | undefined;
}

export type SecondFactorResult = 'verified' | 'missing' | 'invalid';

export const backupCodeCount = 10;
/** No 0/O, 1/I/L: codes are read off paper. */
const backupCodeAlphabet = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
/** A trusted device below this score must pass the second factor again. */
export const trustedDeviceScoreMin = 30;

export function readTotpSecret(config: Config, user: MfaUser): string | undefined {
  if (!user.mfa_secret_ciphertext || !user.mfa_secret_key_id) return undefined;
  return decryptSecret(config.authentication.mfaEncryptionKeys, user.tenant_id, user.id, {
    ciphertext: user.mfa_secret_ciphertext,
    keyId: user.mfa_secret_key_id,
  });
}

/** Accepts a TOTP code once: the step is recorded, and any code of that step or earlier is refused after. */
export async function checkTotp(
  transaction: ScopedTransaction,
  config: Config,
  user: MfaUser,
  code: string,
): Promise<boolean> {
  const secret = readTotpSecret(config, user);
  if (!secret) return false;
  const step = verifyTotp({ secretBase32: secret }, code, Date.now(), user.totp_last_used_step);
  if (step === undefined) return false;
  // Conditional on the stored step, so two concurrent logins with one code cannot both pass.
  const updated = await transaction
    .updateTable('users')
    .set({ totp_last_used_step: step })
    .where('tenant_id', '=', user.tenant_id)
    .where('id', '=', user.id)
    .where((eb) => eb.or([eb('totp_last_used_step', 'is', null), eb('totp_last_used_step', '<', step)]))
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) !== 1) return false;
  if (needsReencryption(config.authentication.mfaEncryptionKeys, user.mfa_secret_key_id ?? '')) {
    await storeTotpSecret(transaction, config, user.tenant_id, user.id, secret, user.mfa_enabled);
  }
  return true;
}

export async function storeTotpSecret(
  transaction: ScopedTransaction,
  config: Config,
  tenantId: string,
  userId: string,
  secret: string,
  enabled: boolean,
): Promise<void> {
  const encrypted = encryptSecret(config.authentication.mfaEncryptionKeys, tenantId, userId, secret);
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

function normaliseBackupCode(code: string): string {
  return code.replaceAll('-', '').toUpperCase();
}

function backupCodeHash(config: Config, userId: string, code: string): string {
  return hashSecretToken(`backup:${userId}:${normaliseBackupCode(code)}`, config.secretTokenKey);
}

export async function consumeBackupCode(
  transaction: ScopedTransaction,
  config: Config,
  user: MfaUser,
  code: string,
): Promise<boolean> {
  const used = await transaction
    .updateTable('mfa_backup_codes')
    .set({ used_at: sql<Date>`now()` })
    .where('tenant_id', '=', user.tenant_id)
    .where('user_id', '=', user.id)
    .where('code_hash', '=', backupCodeHash(config, user.id, code))
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(used.numUpdatedRows) === 1;
}

/** Replaces every backup code of the user with ten new ones; returns them (shown once, stored hashed). */
export async function regenerateBackupCodes(
  transaction: ScopedTransaction,
  config: Config,
  tenantId: string,
  userId: string,
): Promise<string[]> {
  const codes = Array.from({ length: backupCodeCount }, () => {
    const characters = Array.from(
      { length: 10 },
      () => backupCodeAlphabet[randomInt(backupCodeAlphabet.length)],
    ).join('');
    return `${characters.slice(0, 4)}-${characters.slice(4, 8)}-${characters.slice(8)}`;
  });
  await transaction
    .deleteFrom('mfa_backup_codes')
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .execute();
  await transaction
    .insertInto('mfa_backup_codes')
    .values(
      codes.map((code) => ({
        tenant_id: tenantId,
        user_id: userId,
        code_hash: backupCodeHash(config, userId, code),
      })),
    )
    .execute();
  return codes;
}

export async function checkSecondFactor(
  transaction: ScopedTransaction,
  config: Config,
  user: MfaUser,
  input: SecondFactorInput,
): Promise<SecondFactorResult> {
  if (input.totp) return (await checkTotp(transaction, config, user, input.totp)) ? 'verified' : 'invalid';
  if (input.backup_code)
    return (await consumeBackupCode(transaction, config, user, input.backup_code)) ? 'verified' : 'invalid';
  return 'missing';
}

function trustedDeviceFingerprint(config: Config, token: string): string {
  return hashSecretToken(`trusted-device:${token}`, config.secretTokenKey);
}

/** A device the user marked "remember this device" that is unexpired and still trusted enough. */
export async function isTrustedDevice(
  transaction: ScopedTransaction,
  config: Config,
  user: MfaUser,
  token: string,
  ipAddress: string | undefined,
): Promise<boolean> {
  const updated = await transaction
    .updateTable('trusted_devices')
    .set({
      last_seen_at: sql<Date>`now()`,
      last_ip_address: ipAddress ?? null,
      trust_score: sql<string>`least(trust_score + 1, 100)`,
    })
    .where('tenant_id', '=', user.tenant_id)
    .where('user_id', '=', user.id)
    .where('device_fingerprint', '=', trustedDeviceFingerprint(config, token))
    .where('is_trusted', '=', true)
    .where('expires_at', '>', sql<Date>`now()`)
    .where('trust_score', '>=', String(trustedDeviceScoreMin))
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1;
}

/** Remembers the device after a passed second factor; the returned token is the device's proof. */
export async function trustDevice(
  transaction: ScopedTransaction,
  config: Config,
  tenantId: string,
  userId: string,
  device: { type: string; name?: string | undefined },
  ipAddress: string | undefined,
): Promise<string> {
  const token = `td_${randomBytes(32).toString('base64url')}`;
  await transaction
    .insertInto('trusted_devices')
    .values({
      tenant_id: tenantId,
      user_id: userId,
      device_fingerprint: trustedDeviceFingerprint(config, token),
      device_name: device.name ?? null,
      device_type: device.type as 'web',
      last_ip_address: ipAddress ?? null,
      expires_at: sql<Date>`now() + make_interval(days => ${config.authentication.trustedDeviceDays})`,
    })
    .execute();
  return token;
}
