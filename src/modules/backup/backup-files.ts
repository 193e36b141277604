import assert from 'node:assert/strict';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupKeys } from '../../config/backup-config.ts';
import { BackupError } from './backup-errors.ts';
import {
  type BackupManifest,
  type BackupMode,
  backupFileSuffix,
  encryptedBackupFileSuffix,
  manifestPathFor,
  manifestSuffix,
  readManifest,
  verifyBackupFile,
} from './backup-format.ts';

export interface BackupListing {
  file: string;
  path: string;
  mode: BackupMode | undefined;
  sizeBytes: number | undefined;
  /** From the manifest; the file's modification time when the manifest is unreadable. */
  createdAt: Date;
  rowTotal: number | undefined;
  schemaVersion: string | undefined;
  /** The key id the file is encrypted with; undefined for plaintext (or an unreadable manifest). */
  encryptionKeyId: string | undefined;
  /** The file matches its manifest's size and SHA-256 (false when not checked: see `problem`). */
  checksumValid: boolean;
  /** Why the backup cannot be restored, or undefined when it can. */
  problem: string | undefined;
}

const dayMs = 24 * 60 * 60 * 1000;

/**
 * Every backup in the directory (a file, a manifest or both), newest first. A missing directory has none.
 * Given the keys, each is verified (signature, size, SHA-256, key); without them, only listed.
 */
export async function listBackups(directory: string, keys: BackupKeys | undefined): Promise<BackupListing[]> {
  const listings: BackupListing[] = [];
  for (const file of await backupFileNames(directory)) {
    listings.push(await describeBackup(join(directory, file), file, keys));
  }
  return listings.sort(
    (left, right) =>
      right.createdAt.getTime() - left.createdAt.getTime() || right.file.localeCompare(left.file),
  );
}

async function backupFileNames(directory: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const names = new Set<string>();
  for (const entry of entries) {
    const file = entry.endsWith(manifestSuffix) ? entry.slice(0, -manifestSuffix.length) : entry;
    if (file.endsWith(backupFileSuffix) || file.endsWith(encryptedBackupFileSuffix)) names.add(file);
  }
  return [...names];
}

async function describeBackup(
  path: string,
  file: string,
  keys: BackupKeys | undefined,
): Promise<BackupListing> {
  let manifest: BackupManifest | undefined;
  let problem: string | undefined;
  let checksumValid = false;
  try {
    manifest = keys ? await verifyBackupFile(path, keys) : await readManifest(path);
    checksumValid = keys !== undefined;
  } catch (error) {
    if (!(error instanceof BackupError)) throw error;
    problem = error.message;
    manifest = await readManifest(path).catch(() => undefined);
  }
  return {
    file,
    path,
    mode: manifest?.mode,
    sizeBytes: manifest?.size_bytes,
    createdAt: manifest ? new Date(manifest.created_at) : await modificationTime(path),
    rowTotal: manifest
      ? Object.values(manifest.row_counts).reduce((sum, count) => sum + count, 0)
      : undefined,
    schemaVersion: manifest?.schema_version,
    encryptionKeyId: manifest?.encryption?.key_id,
    checksumValid,
    problem,
  };
}

async function modificationTime(path: string): Promise<Date> {
  const found = await stat(path).catch(() => stat(manifestPathFor(path)));
  return found.mtime;
}

/** Deletes backups (file and manifest) created before `now` minus the retention; returns what it deleted. */
export async function pruneBackups(
  directory: string,
  retentionDays: number,
  now: Date = new Date(),
): Promise<BackupListing[]> {
  assert.ok(
    Number.isSafeInteger(retentionDays) && retentionDays >= 1,
    'retentionDays must be a whole number ≥ 1',
  );
  const cutoffMs = now.getTime() - retentionDays * dayMs;
  const expired = (await listBackups(directory, undefined)).filter(
    (listing) => listing.createdAt.getTime() < cutoffMs,
  );
  for (const listing of expired) {
    await rm(listing.path, { force: true });
    await rm(manifestPathFor(listing.path), { force: true });
  }
  return expired;
}
