import { hkdfSync } from 'node:crypto';
import {
  ConfigurationError,
  type Environment,
  readBoolean,
  readInteger,
  readString,
  reportInvalid,
  type Source,
} from './config-readers.ts';

/** A 32-byte key and the id recorded beside what it signed or encrypted, so a reader knows which key to use. */
export interface BackupKey {
  id: string;
  key: Buffer;
}

/** The keys of `corebank db backup`, `restore`, `verify-backup` and the scheduled backup. */
export interface BackupKeys {
  /** Signs every manifest (HMAC-SHA-256): BACKUP_MANIFEST_KEY, or derived from AUDIT_HMAC_KEY when unset. */
  manifest: BackupKey;
  /** BACKUP_ENCRYPTION_KEY: AES-256-GCM of the backup file; undefined writes plaintext gzip. */
  encryption: BackupKey | undefined;
}

/** Scheduled, signed and optionally encrypted backups (issue 11 item 7; docs/operations.md). */
export interface BackupConfig {
  /** BACKUP_ENABLED: the servers take a full backup every intervalMs and prune by BACKUP_RETENTION_DAYS. */
  enabled: boolean;
  /** BACKUP_INTERVAL_MS. */
  intervalMs: number;
  keys: BackupKeys;
}

const intervalMsMin = 60_000;
const intervalMsMax = 7 * 24 * 3600 * 1000;
const keyIdPattern = /^[A-Za-z0-9._:-]{1,64}$/;
// Versioned, so a future change of derivation cannot silently verify under the old one.
const derivedManifestKeyInfo = 'corebank backup manifest mac v1';

function readKeyId(source: Source, name: string, fallback: string): string {
  const id = readString(source, name, fallback);
  if (!keyIdPattern.test(id)) {
    const reason = 'must be 1-64 letters, digits, dot, colon, dash or underscore';
    return reportInvalid(new ConfigurationError(name, reason), fallback);
  }
  return id;
}

function readHexKey(source: Source, name: string): Buffer | undefined {
  const raw = source[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^[0-9a-fA-F]{64}$/.test(raw)) {
    return reportInvalid(new ConfigurationError(name, 'must be 64 hex characters (32 bytes)'), undefined);
  }
  return Buffer.from(raw, 'hex');
}

/**
 * BACKUP_MANIFEST_KEY when set. Unset, a key derived (HKDF-SHA-256) from AUDIT_HMAC_KEY: that key is
 * already required in production and must never change (it verifies the audit chain), so every
 * deployment signs its manifests without a new secret, and the derivation keeps the two uses apart.
 */
function readManifestKey(source: Source, audit: BackupKey): BackupKey {
  const configured = readHexKey(source, 'BACKUP_MANIFEST_KEY');
  if (configured) return { id: readKeyId(source, 'BACKUP_MANIFEST_KEY_ID', 'm1'), key: configured };
  const derived = Buffer.from(hkdfSync('sha256', audit.key, Buffer.alloc(0), derivedManifestKeyInfo, 32));
  return { id: `audit:${audit.id}`, key: derived };
}

/**
 * Production refuses scheduled backups without BACKUP_ENCRYPTION_KEY: they hold every customer's data
 * and land on the server's disk unattended. A backup taken by hand may still be plaintext.
 */
function readEncryptionKey(
  source: Source,
  environment: Environment,
  enabled: boolean,
): BackupKey | undefined {
  const key = readHexKey(source, 'BACKUP_ENCRYPTION_KEY');
  if (!key) {
    if (environment === 'production' && enabled) {
      const reason = 'is required in production while BACKUP_ENABLED is true (64 hex characters)';
      reportInvalid(new ConfigurationError('BACKUP_ENCRYPTION_KEY', reason), undefined);
    }
    return undefined;
  }
  return { id: readKeyId(source, 'BACKUP_ENCRYPTION_KEY_ID', 'e1'), key };
}

export function readBackupConfig(source: Source, environment: Environment, audit: BackupKey): BackupConfig {
  const enabled = readBoolean(source, 'BACKUP_ENABLED', false);
  return {
    enabled,
    intervalMs: readInteger(source, 'BACKUP_INTERVAL_MS', 24 * 3600 * 1000, intervalMsMin, intervalMsMax),
    keys: {
      manifest: readManifestKey(source, audit),
      encryption: readEncryptionKey(source, environment, enabled),
    },
  };
}
