import type { BackupKeys } from '../../config/backup-config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import {
  countRows,
  enterMaintenance,
  insertBatchBytesMax,
  insertBatchRowsMax,
  insertRows,
  setTriggersEnabled,
  truncateTables,
} from './backup.repository.ts';
import type { ProgressListener } from './backup.service.ts';
import { BackupError, translateRowSecurityError } from './backup-errors.ts';
import {
  type BackupHeader,
  decodeHeader,
  decodeRowLine,
  readBackupLines,
  verifyBackupFile,
} from './backup-format.ts';
import { type BackupManifest, decryptionKeyFor } from './backup-manifest.ts';
import { assertHeaderMatchesManifest, nextTableIndex } from './backup-verify.ts';
import { assertSchemaMatches } from './schema-check.ts';
import {
  type DatabaseExecutor,
  readInsertTriggers,
  readTableCatalog,
  type TableShape,
  writeSequenceState,
} from './table-catalog.ts';

export interface RestoreOptions {
  file: string;
  /** Verifies the manifest's signature; decrypts an encrypted file (refused without its key). */
  keys: BackupKeys;
  onProgress?: ProgressListener | undefined;
}

export interface RestoreResult {
  manifest: BackupManifest;
  /** Rows now in each data table; empty for a schema-only backup, which changes no rows. */
  rowCounts: Record<string, number>;
  rowsRestored: number;
}

/**
 * Replaces every data table's rows with a backup's. Everything that can be checked without the
 * database is checked first (manifest, size, SHA-256, header, schema version), then the load runs in one
 * transaction that commits only if each table holds exactly the manifest's row count.
 */
export async function restoreBackup(handle: DatabaseHandle, options: RestoreOptions): Promise<RestoreResult> {
  const manifest = await verifyBackupFile(options.file, options.keys);
  const decryptionKey = decryptionKeyFor(manifest, options.keys, options.file);
  const header = await readHeader(options.file, decryptionKey);
  assertHeaderMatchesManifest(header, manifest, options.file);
  await assertSchemaMatches(handle.db, header, options.file);
  if (manifest.mode === 'schema-only') return { manifest, rowCounts: {}, rowsRestored: 0 };
  try {
    return await handle.db.transaction().execute(async (transaction) => {
      await enterMaintenance(transaction);
      const rowCounts = await replaceRows(transaction, { ...options, decryptionKey }, header, manifest);
      const rowsRestored = Object.values(rowCounts).reduce((sum, count) => sum + count, 0);
      return { manifest, rowCounts, rowsRestored };
    });
  } catch (error) {
    throw translateRowSecurityError(error);
  }
}

async function readHeader(file: string, decryptionKey: Buffer | undefined): Promise<BackupHeader> {
  for await (const line of readBackupLines(file, decryptionKey)) return decodeHeader(line);
  return decodeHeader(undefined);
}

async function replaceRows(
  transaction: DatabaseExecutor,
  options: LoadOptions,
  header: BackupHeader,
  manifest: BackupManifest,
): Promise<Record<string, number>> {
  const { tables } = await readTableCatalog(transaction);
  const names = tables.map((table) => table.name);
  await truncateTables(transaction, names);
  const insertTriggers = await readInsertTriggers(transaction, names);
  await setTriggersEnabled(transaction, insertTriggers, false);
  const loaded = await loadRows(transaction, options, header, tables, manifest);
  await setTriggersEnabled(transaction, insertTriggers, true);
  for (const sequence of header.sequences) await writeSequenceState(transaction, sequence);
  const counted = await countRows(transaction, names);
  assertRowCounts(manifest, loaded, counted, options.file);
  return counted;
}

type LoadOptions = RestoreOptions & { decryptionKey: Buffer | undefined };

interface PendingBatch {
  table: TableShape | undefined;
  rowJsons: string[];
  bytes: number;
}

/** Streams the row lines into the tables, a bounded batch per insert; returns the rows read per table. */
async function loadRows(
  transaction: DatabaseExecutor,
  options: LoadOptions,
  header: BackupHeader,
  tables: TableShape[],
  manifest: BackupManifest,
): Promise<Record<string, number>> {
  const tablesByName = new Map(tables.map((table) => [table.name, table]));
  const rowsTotal = Object.values(manifest.row_counts).reduce((sum, count) => sum + count, 0);
  const loaded: Record<string, number> = {};
  let rowsDone = 0;
  let tableIndex = -1;
  const batch: PendingBatch = { table: undefined, rowJsons: [], bytes: 0 };
  const flush = async () => {
    if (!batch.table || batch.rowJsons.length === 0) return;
    await insertRows(transaction, batch.table, batch.rowJsons);
    rowsDone += batch.rowJsons.length;
    loaded[batch.table.name] = (loaded[batch.table.name] ?? 0) + batch.rowJsons.length;
    options.onProgress?.({ table: batch.table.name, rowsDone, rowsTotal });
    batch.rowJsons = [];
    batch.bytes = 0;
  };
  let lineNumber = 0;
  for await (const line of readBackupLines(options.file, options.decryptionKey)) {
    lineNumber += 1;
    if (lineNumber === 1) continue;
    const { table, rowJson } = decodeRowLine(line, lineNumber);
    if (batch.table?.name !== table) {
      await flush();
      tableIndex = nextTableIndex(header, table, tableIndex, lineNumber);
      batch.table = tablesByName.get(table);
      if (!batch.table) {
        throw new BackupError(
          'BACKUP_SCHEMA_MISMATCH',
          `the backup has rows for ${table}, which the database lacks`,
        );
      }
    }
    batch.rowJsons.push(rowJson);
    batch.bytes += rowJson.length;
    if (batch.rowJsons.length >= insertBatchRowsMax || batch.bytes >= insertBatchBytesMax) await flush();
  }
  await flush();
  return loaded;
}

function assertRowCounts(
  manifest: BackupManifest,
  loaded: Record<string, number>,
  counted: Record<string, number>,
  file: string,
): void {
  const tables = new Set([...Object.keys(manifest.row_counts), ...Object.keys(counted)]);
  for (const table of [...tables].sort()) {
    const expected = manifest.row_counts[table] ?? 0;
    const read = loaded[table] ?? 0;
    const present = counted[table];
    if (read !== expected || present !== expected) {
      throw new BackupError(
        'BACKUP_ROW_COUNT_MISMATCH',
        `restoring ${file} would leave ${present ?? 'no table'} rows in ${table} (read ${read}, manifest ` +
          `${expected}); nothing was changed, use another backup`,
      );
    }
  }
}
