import { randomBytes, randomInt } from 'node:crypto';
import type { Config } from '../../config/config.ts';
import type { DeviceType, TrustedDeviceType } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { hashSecretToken } from '../identity/credential-hashing.ts';
import {
  claimTotpStep,
  insertTrustedDevice,
  replaceBackupCodes,
  touchTrustedDevice,
  updateTotpSecret,
  useBackupCode,
} from './mfa.repository.ts';
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
  if (!(await claimTotpStep(transaction, user.tenant_id, user.id, step))) return false;
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
  await updateTotpSecret(transaction, tenantId, userId, encrypted, enabled);
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
  return useBackupCode(transaction, user.tenant_id, user.id, backupCodeHash(config, user.id, code));
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
  await replaceBackupCodes(
    transaction,
    tenantId,
    userId,
    codes.map((code) => backupCodeHash(config, userId, code)),
  );
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

/** A device the user marked "remember this device" that is unexpired and still trusted enough: its id. */
export async function trustedDeviceOf(
  transaction: ScopedTransaction,
  config: Config,
  user: MfaUser,
  token: string,
  ipAddress: string | undefined,
): Promise<string | undefined> {
  return touchTrustedDevice(
    transaction,
    user.tenant_id,
    user.id,
    trustedDeviceFingerprint(config, token),
    ipAddress ?? null,
    trustedDeviceScoreMin,
  );
}

/** Remembers the device after a passed second factor: the token (the device's proof) and its id. */
export async function trustDevice(
  transaction: ScopedTransaction,
  config: Config,
  tenantId: string,
  userId: string,
  device: { type: DeviceType; name?: string | undefined },
  ipAddress: string | undefined,
): Promise<{ token: string; id: string }> {
  const token = `td_${randomBytes(32).toString('base64url')}`;
  const id = await insertTrustedDevice(transaction, {
    tenantId,
    userId,
    fingerprint: trustedDeviceFingerprint(config, token),
    deviceName: device.name ?? null,
    // The login body's device type is one of android, ios, web, desktop: all trusted device types too.
    deviceType: device.type as TrustedDeviceType,
    ipAddress: ipAddress ?? null,
    trustDays: config.authentication.trustedDeviceDays,
  });
  return { token, id };
}
