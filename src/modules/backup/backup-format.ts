import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import type { BackupKeys } from '../../config/backup-config.ts';
import type { Engine } from '../../db/database.ts';
import { DecryptStream } from './backup-crypto.ts';
import { BackupError } from './backup-errors.ts';
import {
  type BackupManifest,
  decryptionKeyFor,
  manifestFormatVersion,
  validateSignedFields,
  verifyManifestSignature,
} from './backup-manifest.ts';
import type { SequenceState, TableShape } from './table-catalog.ts';

export type { BackupManifest } from './backup-manifest.ts';

/**
 * A backup is two files. `<name>.cbk.gz` is gzip of NDJSON: one header line, then one line per row
 * (`{"table":…,"row":…}`), table by table in foreign-key order; `<name>.cbk.gz.enc` is that gzip
 * encrypted (backup-crypto.ts). `<name>…manifest.json` describes it and carries the SHA-256 and size
 * that a restore checks before it touches the database, under an HMAC (backup-manifest.ts).
 */
export const backupFormatVersion = 1;
export const backupFileSuffix = '.cbk.gz';
export const encryptedBackupFileSuffix = '.cbk.gz.enc';
export const manifestSuffix = '.manifest.json';

export const backupModes = ['full', 'schema-only', 'data-only'] as const;
export type BackupMode = (typeof backupModes)[number];

export interface BackupHeader {
  format: 'corebank-backup';
  format_version: number;
  mode: BackupMode;
  created_at: string;
  engine: Engine;
  schema_version: string;
  migrations: string[];
  /** Tables in the order their rows follow (parents first). */
  tables: string[];
  /** The schema snapshot: present in full and schema-only backups. */
  catalog: TableShape[] | undefined;
  sequences: SequenceState[];
}

/** `corebank-20250102T030405.678Z-full.cbk.gz`: sortable, colon-free (Windows), unique to the millisecond. */
export function backupFileName(mode: BackupMode, createdAt: Date, encrypted: boolean): string {
  const timestamp = createdAt.toISOString().replaceAll('-', '').replaceAll(':', '');
  return `corebank-${timestamp}-${mode}${encrypted ? encryptedBackupFileSuffix : backupFileSuffix}`;
}

export function manifestPathFor(backupPath: string): string {
  return `${backupPath}${manifestSuffix}`;
}

export function encodeRowLine(table: string, rowJson: string): string {
  assert.ok(!rowJson.includes('\n'), `a row of ${table} spans lines; the file would not parse`);
  // rowJson is PostgreSQL's jsonb text: kept as text so numerics and bigints never pass through a JS number.
  return `{"table":${JSON.stringify(table)},"row":${rowJson}}\n`;
}

const rowLinePattern = /^\{"table":"([A-Za-z_][A-Za-z0-9_$]{0,62})","row":(\{.*\})\}$/s;

/** The inverse of encodeRowLine, without parsing the row (PostgreSQL parses it on insert). */
export function decodeRowLine(line: string, lineNumber: number): { table: string; rowJson: string } {
  const match = rowLinePattern.exec(line);
  if (!match?.[1] || !match[2]) {
    throw new BackupError('BACKUP_CONTENT_INVALID', `line ${lineNumber} of the backup is not a row line`);
  }
  return { table: match[1], rowJson: match[2] };
}

export function decodeHeader(line: string | undefined): BackupHeader {
  let header: Partial<BackupHeader>;
  try {
    header = JSON.parse(line ?? '') as Partial<BackupHeader>;
  } catch {
    throw new BackupError('BACKUP_CONTENT_INVALID', 'the backup does not start with a header line');
  }
  if (header.format !== 'corebank-backup' || header.format_version !== backupFormatVersion) {
    throw new BackupError(
      'BACKUP_CONTENT_INVALID',
      `the backup header is not corebank-backup format version ${backupFormatVersion}`,
    );
  }
  return header as BackupHeader;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function isRowCounts(value: unknown): value is Record<string, number> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.values(value).every((count) => Number.isSafeInteger(count) && (count as number) >= 0);
}

/** Checks every field a restore relies on, so a hand-edited manifest fails here and not halfway through. */
export function validateManifest(value: unknown, manifestPath: string): BackupManifest {
  const manifest = value as Partial<BackupManifest> | null;
  const problems: string[] = [];
  if (typeof manifest !== 'object' || manifest === null) problems.push('not an object');
  else {
    if (manifest.format_version !== manifestFormatVersion) problems.push('format_version');
    if (typeof manifest.file !== 'string') problems.push('file');
    if (!backupModes.includes(manifest.mode as BackupMode)) problems.push('mode');
    if (typeof manifest.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(manifest.sha256))
      problems.push('sha256');
    if (!Number.isSafeInteger(manifest.size_bytes) || (manifest.size_bytes as number) < 0) {
      problems.push('size_bytes');
    }
    if (typeof manifest.schema_version !== 'string') problems.push('schema_version');
    if (!isStringArray(manifest.migrations)) problems.push('migrations');
    if (!isRowCounts(manifest.row_counts)) problems.push('row_counts');
    if (manifest.engine !== 'pglite' && manifest.engine !== 'postgres') problems.push('engine');
    if (typeof manifest.created_at !== 'string' || Number.isNaN(Date.parse(manifest.created_at))) {
      problems.push('created_at');
    }
    problems.push(...validateSignedFields(manifest));
  }
  if (problems.length > 0) {
    throw new BackupError(
      'BACKUP_MANIFEST_INVALID',
      `manifest ${manifestPath} is invalid (${problems.join(', ')}); take a new backup`,
    );
  }
  return manifest as BackupManifest;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

export async function readManifest(backupPath: string): Promise<BackupManifest> {
  const manifestPath = manifestPathFor(backupPath);
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch (error) {
    if (!isMissing(error)) throw error;
    throw new BackupError(
      'BACKUP_MANIFEST_MISSING',
      `manifest ${manifestPath} is missing; a backup cannot be verified without it`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BackupError(
      'BACKUP_MANIFEST_INVALID',
      `manifest ${manifestPath} is not valid JSON; take a new backup`,
    );
  }
  const manifest = validateManifest(parsed, manifestPath);
  if (manifest.file !== basename(backupPath)) {
    throw new BackupError(
      'BACKUP_MANIFEST_INVALID',
      `manifest ${manifestPath} describes ${manifest.file}, not ${basename(backupPath)}`,
    );
  }
  return manifest;
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Reads the manifest, checks its signature, and proves the file is the one it describes: present, same
 * size, same SHA-256; for an encrypted file, that the configured key is the one it was encrypted with.
 */
export async function verifyBackupFile(backupPath: string, keys: BackupKeys): Promise<BackupManifest> {
  let sizeBytes: number;
  try {
    sizeBytes = (await stat(backupPath)).size;
  } catch (error) {
    if (!isMissing(error)) throw error;
    throw new BackupError('BACKUP_FILE_MISSING', `backup file ${backupPath} does not exist`);
  }
  const manifest = await readManifest(backupPath);
  verifyManifestSignature(manifest, keys.manifest, manifestPathFor(backupPath));
  decryptionKeyFor(manifest, keys, backupPath);
  if (sizeBytes !== manifest.size_bytes) {
    throw new BackupError(
      'BACKUP_SIZE_MISMATCH',
      `backup file ${backupPath} is ${sizeBytes} bytes but its manifest says ${manifest.size_bytes} ` +
        '(truncated or replaced); use another backup',
    );
  }
  if ((await sha256OfFile(backupPath)) !== manifest.sha256) {
    throw new BackupError(
      'BACKUP_CHECKSUM_MISMATCH',
      `backup file ${backupPath} does not match the SHA-256 in its manifest (altered or corrupted); ` +
        'use another backup',
    );
  }
  return manifest;
}

// A row line longer than this means a corrupt file, not a row: no column of the schema comes near it.
const lineLengthMax = 256 * 1024 * 1024;

/**
 * Streams the decrypted (given the key) and decompressed lines of a backup, holding at most one line and
 * one chunk in memory.
 */
export async function* readBackupLines(
  backupPath: string,
  decryptionKey?: Buffer | undefined,
): AsyncGenerator<string> {
  const source = createReadStream(backupPath);
  const gunzip = createGunzip();
  source.on('error', (error) => gunzip.destroy(error));
  const decrypt = decryptionKey ? new DecryptStream(decryptionKey, backupPath) : undefined;
  if (decrypt) {
    decrypt.on('error', (error) => gunzip.destroy(error));
    source.pipe(decrypt).pipe(gunzip);
  } else {
    source.pipe(gunzip);
  }
  const decoder = new StringDecoder('utf8');
  let pending = '';
  try {
    for await (const chunk of gunzip) {
      pending += decoder.write(chunk as Buffer);
      let lineStart = 0;
      let newline = pending.indexOf('\n', lineStart);
      while (newline !== -1) {
        yield pending.slice(lineStart, newline);
        lineStart = newline + 1;
        newline = pending.indexOf('\n', lineStart);
      }
      pending = pending.slice(lineStart);
      if (pending.length > lineLengthMax) {
        throw new BackupError(
          'BACKUP_CONTENT_INVALID',
          `backup ${backupPath} has a line over ${lineLengthMax} bytes`,
        );
      }
    }
  } catch (error) {
    if (error instanceof BackupError) throw error;
    throw new BackupError(
      'BACKUP_CONTENT_INVALID',
      `backup ${backupPath} cannot be decompressed (${(error as Error).message}); use another backup`,
    );
  } finally {
    source.destroy();
    decrypt?.destroy();
    gunzip.destroy();
  }
  pending += decoder.end();
  if (pending.length > 0) yield pending;
}
