import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { BackupKeys } from '../../config/backup-config.ts';
import {
  createEncryptStream,
  DecryptStream,
  encryptionKeyCheck,
  macMatches,
  manifestMac,
} from '../backup/backup-crypto.ts';
import { type BackupEncryption, describeEncryption } from '../backup/backup-manifest.ts';
import { protectedFileMode as fileMode, writeCompressedFile } from '../backup/compressed-file.ts';

/**
 * An archive is two files, protected like a backup (src/modules/backup): `<name>.jsonl.gz` is gzip of
 * JSON Lines — one header line, then one line per row as PostgreSQL's `to_jsonb(row)` text, in
 * (created_at, id) order — or `<name>.jsonl.gz.enc`, that gzip under AES-256-GCM with
 * BACKUP_ENCRYPTION_KEY. `<file>.manifest.json` carries the file's size, SHA-256 and row count under an
 * HMAC-SHA-256 with the backup manifest key. Files are 0600 in a 0700 directory.
 */
export const archiveFormat = 'corebank-retention-archive';
export const archiveFormatVersion = 1;
const manifestSuffix = '.manifest.json';
const directoryMode = 0o700;

export interface ArchiveManifest {
  format: typeof archiveFormat;
  format_version: number;
  file: string;
  table: string;
  range_start: string | null;
  range_end: string;
  row_count: number;
  sha256: string;
  size_bytes: number;
  created_at: string;
  encryption: BackupEncryption | null;
  mac: { algorithm: 'hmac-sha256'; key_id: string; value: string };
}

export interface ArchiveHeader {
  format: typeof archiveFormat;
  format_version: number;
  table: string;
  range_start: string | null;
  range_end: string;
  created_at: string;
}

export class RetentionArchiveError extends Error {}

export function manifestPathOf(archivePath: string): string {
  return `${archivePath}${manifestSuffix}`;
}

/** `api_access_log-20250101T000000.000Z-20250201T000000.000Z-<random>.jsonl.gz`: sortable, colon-free. */
function archiveFileName(header: ArchiveHeader, encrypted: boolean): string {
  const stamp = (value: string | null) => (value ?? 'start').replaceAll('-', '').replaceAll(':', '');
  const suffix = encrypted ? '.jsonl.gz.enc' : '.jsonl.gz';
  return `${header.table}-${stamp(header.range_start)}-${stamp(header.range_end)}-${randomBytes(4).toString('hex')}${suffix}`;
}

export interface WrittenArchive {
  path: string;
  manifest: ArchiveManifest;
}

/**
 * Writes the rows (the header first) under a temporary name, flushed, renamed when complete, then the
 * signed manifest. The caller records the archive in `retention_archives` in the transaction that
 * deletes the rows: a file without that record comes from a run that rolled back.
 */
export async function writeArchive(
  directory: string,
  header: ArchiveHeader,
  rows: AsyncIterable<string>,
  keys: BackupKeys,
): Promise<WrittenArchive> {
  await mkdir(directory, { recursive: true, mode: directoryMode });
  const encryption = keys.encryption;
  const path = join(directory, archiveFileName(header, encryption !== undefined));
  let rowCount = 0;
  async function* lines(): AsyncIterable<string> {
    yield `${JSON.stringify(header)}\n`;
    for await (const row of rows) {
      rowCount += 1;
      yield `${row}\n`;
    }
  }
  const written = await writeCompressed(`${path}.partial`, lines(), encryption?.key);
  await rename(`${path}.partial`, path);
  const unsigned = {
    format: archiveFormat,
    format_version: archiveFormatVersion,
    file: basename(path),
    table: header.table,
    range_start: header.range_start,
    range_end: header.range_end,
    row_count: rowCount,
    sha256: written.sha256,
    size_bytes: written.sizeBytes,
    created_at: header.created_at,
    encryption: describeEncryption(encryption),
  } as const;
  const manifest: ArchiveManifest = {
    ...unsigned,
    mac: { algorithm: 'hmac-sha256', key_id: keys.manifest.id, value: manifestMac(unsigned, keys.manifest) },
  };
  await writeFile(manifestPathOf(path), `${JSON.stringify(manifest, null, 2)}\n`, {
    flag: 'wx',
    mode: fileMode,
  });
  return { path, manifest };
}

async function writeCompressed(
  path: string,
  lines: AsyncIterable<string>,
  encryptionKey: Buffer | undefined,
): Promise<{ sha256: string; sizeBytes: number }> {
  try {
    return await writeCompressedFile(path, lines, encryptionKey);
  } catch (error) {
    await rm(path, { force: true });
    throw error;
  }
}

/** Removes an archive (file and manifest) whose rows were not deleted: its run rolled back. */
export async function discardArchive(path: string): Promise<void> {
  await rm(path, { force: true });
  await rm(manifestPathOf(path), { force: true });
}

/** Reads and checks the manifest: its fields, its HMAC, then the file's size and SHA-256. */
export async function verifyArchive(path: string, keys: BackupKeys): Promise<ArchiveManifest> {
  let manifest: ArchiveManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPathOf(path), 'utf8')) as ArchiveManifest;
  } catch {
    throw new RetentionArchiveError(`archive ${path} has no readable manifest (${manifestPathOf(path)})`);
  }
  if (
    manifest?.format !== archiveFormat ||
    manifest.format_version !== archiveFormatVersion ||
    !manifest.mac
  ) {
    throw new RetentionArchiveError(`${manifestPathOf(path)} is not a retention archive manifest`);
  }
  const { mac, ...unsigned } = manifest;
  if (mac.key_id !== keys.manifest.id || !macMatches(manifestMac(unsigned, keys.manifest), mac.value)) {
    throw new RetentionArchiveError(
      `the manifest of ${path} does not match its signature (altered, or signed with key id ${mac.key_id})`,
    );
  }
  if (manifest.file !== basename(path)) {
    throw new RetentionArchiveError(`the manifest of ${path} describes another file (${manifest.file})`);
  }
  const { size } = await stat(path);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  if (size !== manifest.size_bytes || hash.digest('hex') !== manifest.sha256) {
    throw new RetentionArchiveError(`archive ${path} does not match its manifest's size and SHA-256`);
  }
  return manifest;
}

/**
 * Verifies the archive, then yields its rows (parsed) in file order. Fails on a header that does not
 * match the manifest and on a row count that differs from it.
 */
export async function* readArchiveRows(
  path: string,
  keys: BackupKeys,
): AsyncIterable<Record<string, unknown>> {
  const manifest = await verifyArchive(path, keys);
  const decryptionKey = archiveDecryptionKey(manifest, keys, path);
  const source = createReadStream(path);
  const plain = decryptionKey ? source.pipe(new DecryptStream(decryptionKey, path)) : source;
  const lines = createInterface({ input: plain.pipe(createGunzip()), crlfDelay: Number.POSITIVE_INFINITY });
  let header: ArchiveHeader | undefined;
  let count = 0;
  for await (const line of lines) {
    if (!header) {
      header = JSON.parse(line) as ArchiveHeader;
      if (header.table !== manifest.table || header.range_end !== manifest.range_end) {
        throw new RetentionArchiveError(`the header of ${path} does not match its manifest`);
      }
      continue;
    }
    count += 1;
    yield JSON.parse(line) as Record<string, unknown>;
  }
  if (count !== manifest.row_count) {
    throw new RetentionArchiveError(
      `archive ${path} holds ${count} rows, its manifest ${manifest.row_count}`,
    );
  }
}

/** The key that decrypts the archive (undefined for plaintext); refuses a missing or different key at once. */
function archiveDecryptionKey(manifest: ArchiveManifest, keys: BackupKeys, path: string): Buffer | undefined {
  const { encryption } = manifest;
  if (!encryption) return undefined;
  if (!keys.encryption || encryptionKeyCheck(keys.encryption.key) !== encryption.key_check) {
    throw new RetentionArchiveError(
      `archive ${path} is encrypted with key id ${encryption.key_id}; set BACKUP_ENCRYPTION_KEY to that key`,
    );
  }
  return keys.encryption.key;
}
