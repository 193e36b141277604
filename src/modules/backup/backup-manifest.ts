import type { BackupKey, BackupKeys } from '../../config/backup-config.ts';
import type { Engine } from '../../db/database.ts';
import { encryptionAlgorithm, encryptionKeyCheck, macMatches, manifestMac } from './backup-crypto.ts';
import { BackupError } from './backup-errors.ts';
import type { BackupMode } from './backup-format.ts';

/**
 * Version 2 manifests are signed (HMAC-SHA-256 over every other field, keys sorted: canonicalJson) and
 * say whether and with which key the file is encrypted. A version 1 manifest carries only an unkeyed
 * SHA-256, which anyone who can alter the file can recompute, so it is no longer accepted.
 */
export const manifestFormatVersion = 2;
const macAlgorithm = 'hmac-sha256';

export interface BackupEncryption {
  algorithm: typeof encryptionAlgorithm;
  key_id: string;
  /** encryptionKeyCheck of the key: tells a wrong key from a damaged file. */
  key_check: string;
}

export interface BackupManifestMac {
  algorithm: typeof macAlgorithm;
  key_id: string;
  value: string;
}

export interface BackupManifest {
  format_version: number;
  file: string;
  mode: BackupMode;
  /** Of the file as written: the ciphertext when encrypted. */
  sha256: string;
  size_bytes: number;
  schema_version: string;
  migrations: string[];
  row_counts: Record<string, number>;
  engine: Engine;
  created_at: string;
  encryption: BackupEncryption | null;
  mac: BackupManifestMac;
}

export type UnsignedManifest = Omit<BackupManifest, 'mac'>;

export function describeEncryption(key: BackupKey | undefined): BackupEncryption | null {
  if (!key) return null;
  return { algorithm: encryptionAlgorithm, key_id: key.id, key_check: encryptionKeyCheck(key.key) };
}

export function signManifest(unsigned: UnsignedManifest, key: BackupKey): BackupManifest {
  return { ...unsigned, mac: { algorithm: macAlgorithm, key_id: key.id, value: manifestMac(unsigned, key) } };
}

const hex64Pattern = /^[0-9a-f]{64}$/;
// Bounded and printable; wider than BACKUP_*_KEY_ID's own rule, since a derived id embeds AUDIT_HMAC_KEY_ID.
const keyIdLengthMax = 80;

function isKeyId(value: unknown): boolean {
  return (
    typeof value === 'string' && value.length >= 1 && value.length <= keyIdLengthMax && !/\p{Cc}/u.test(value)
  );
}

function isEncryption(value: unknown): boolean {
  if (value === null) return true;
  const encryption = value as Partial<BackupEncryption> | undefined;
  return (
    typeof encryption === 'object' &&
    encryption.algorithm === encryptionAlgorithm &&
    isKeyId(encryption.key_id) &&
    typeof encryption.key_check === 'string' &&
    /^[0-9a-f]{16}$/.test(encryption.key_check)
  );
}

function isMac(value: unknown): boolean {
  const mac = value as Partial<BackupManifestMac> | undefined | null;
  return (
    typeof mac === 'object' &&
    mac !== null &&
    mac.algorithm === macAlgorithm &&
    isKeyId(mac.key_id) &&
    typeof mac.value === 'string' &&
    hex64Pattern.test(mac.value)
  );
}

/** The names of the signature and encryption fields that are missing or malformed (validateManifest). */
export function validateSignedFields(manifest: Partial<BackupManifest>): string[] {
  const problems: string[] = [];
  if (!isEncryption(manifest.encryption)) problems.push('encryption');
  if (!isMac(manifest.mac)) problems.push('mac');
  return problems;
}

/** Refuses a manifest signed under another key id, or whose MAC does not match its fields. */
export function verifyManifestSignature(
  manifest: BackupManifest,
  key: BackupKey,
  manifestPath: string,
): void {
  const { mac, ...unsigned } = manifest;
  if (mac.key_id !== key.id) {
    throw new BackupError(
      'BACKUP_MANIFEST_SIGNATURE_INVALID',
      `manifest ${manifestPath} is signed with manifest key id ${mac.key_id}, but the configured key is ` +
        `${key.id}; set BACKUP_MANIFEST_KEY (or AUDIT_HMAC_KEY) to the key it was signed with`,
    );
  }
  if (!macMatches(manifestMac(unsigned, key), mac.value)) {
    throw new BackupError(
      'BACKUP_MANIFEST_SIGNATURE_INVALID',
      `manifest ${manifestPath} does not match its signature (altered, or signed with another key under ` +
        'the same id); use another backup',
    );
  }
}

/**
 * The key that decrypts the backup: undefined for a plaintext one. Refuses at once, before any byte is
 * decrypted, when no key is configured or the configured one is not the one the file was encrypted with.
 */
export function decryptionKeyFor(
  manifest: BackupManifest,
  keys: BackupKeys,
  file: string,
): Buffer | undefined {
  const { encryption } = manifest;
  if (!encryption) return undefined;
  const configured = keys.encryption;
  if (!configured) {
    throw new BackupError(
      'BACKUP_KEY_MISSING',
      `backup ${file} is encrypted with key id ${encryption.key_id}; set BACKUP_ENCRYPTION_KEY to that key`,
    );
  }
  if (encryptionKeyCheck(configured.key) !== encryption.key_check) {
    throw new BackupError(
      'BACKUP_KEY_MISMATCH',
      `backup ${file} is encrypted with key id ${encryption.key_id}, not with the configured ` +
        `BACKUP_ENCRYPTION_KEY (key id ${configured.id}); set the key it was encrypted with`,
    );
  }
  return configured.key;
}
