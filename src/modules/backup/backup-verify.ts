import type { BackupKeys } from '../../config/backup-config.ts';
import type { ProgressListener } from './backup.service.ts';
import { BackupError } from './backup-errors.ts';
import {
  type BackupHeader,
  decodeHeader,
  decodeRowLine,
  readBackupLines,
  verifyBackupFile,
} from './backup-format.ts';
import { type BackupManifest, decryptionKeyFor } from './backup-manifest.ts';

export interface VerifyResult {
  manifest: BackupManifest;
  rowsChecked: number;
}

const progressEveryRows = 1000;

/**
 * Everything a restore checks without a database: the manifest's signature, the file's size and SHA-256,
 * then the whole file decrypted and decompressed to its end (so a GCM tag or gzip trailer that fails is
 * found), the header against the manifest, every row line's shape and table order, and each table's row
 * count against the manifest. Reads the file twice; holds one line at a time.
 */
export async function verifyBackup(
  file: string,
  keys: BackupKeys,
  onProgress?: ProgressListener | undefined,
): Promise<VerifyResult> {
  const manifest = await verifyBackupFile(file, keys);
  const decryptionKey = decryptionKeyFor(manifest, keys, file);
  const rowsTotal = Object.values(manifest.row_counts).reduce((sum, count) => sum + count, 0);
  const read: Record<string, number> = {};
  let header: BackupHeader | undefined;
  let tableIndex = -1;
  let currentTable: string | undefined;
  let lineNumber = 0;
  for await (const line of readBackupLines(file, decryptionKey)) {
    lineNumber += 1;
    if (!header) {
      header = decodeHeader(line);
      assertHeaderMatchesManifest(header, manifest, file);
      continue;
    }
    const { table } = decodeRowLine(line, lineNumber);
    if (table !== currentTable) {
      tableIndex = nextTableIndex(header, table, tableIndex, lineNumber);
      currentTable = table;
    }
    read[table] = (read[table] ?? 0) + 1;
    if ((lineNumber - 1) % progressEveryRows === 0)
      onProgress?.({ table, rowsDone: lineNumber - 1, rowsTotal });
  }
  if (!header) decodeHeader(undefined);
  assertCountsMatch(manifest, read, file);
  onProgress?.({ table: currentTable ?? '', rowsDone: lineNumber - 1, rowsTotal });
  return { manifest, rowsChecked: Math.max(0, lineNumber - 1) };
}

function assertCountsMatch(manifest: BackupManifest, read: Record<string, number>, file: string): void {
  const tables = new Set([...Object.keys(manifest.row_counts), ...Object.keys(read)]);
  for (const table of [...tables].sort()) {
    const expected = manifest.row_counts[table] ?? 0;
    if ((read[table] ?? 0) !== expected) {
      throw new BackupError(
        'BACKUP_ROW_COUNT_MISMATCH',
        `backup ${file} holds ${read[table] ?? 0} rows of ${table} but its manifest says ${expected}; ` +
          'use another backup',
      );
    }
  }
}

export function assertHeaderMatchesManifest(
  header: BackupHeader,
  manifest: BackupManifest,
  file: string,
): void {
  const agrees =
    header.mode === manifest.mode &&
    header.schema_version === manifest.schema_version &&
    header.migrations.join('\n') === manifest.migrations.join('\n') &&
    header.created_at === manifest.created_at;
  if (!agrees) {
    throw new BackupError(
      'BACKUP_MANIFEST_INVALID',
      `the manifest of ${file} does not describe the backup it sits beside; use the manifest written with it`,
    );
  }
}

/**
 * A table's rows are contiguous and tables follow the header's order (parents first, which the schema
 * check matched against the database's foreign keys); anything else is a malformed file.
 */
export function nextTableIndex(
  header: BackupHeader,
  table: string,
  currentIndex: number,
  lineNumber: number,
): number {
  const index = header.tables.indexOf(table);
  if (index <= currentIndex) {
    throw new BackupError(
      'BACKUP_CONTENT_INVALID',
      `line ${lineNumber} of the backup has a row of ${table} out of table order`,
    );
  }
  return index;
}
