import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { BackupKeys } from '../../config/backup-config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import {
  countRows,
  enterMaintenance,
  enterReadOnlySnapshot,
  lockTables,
  readRowBatches,
  recordBackup,
  truncateTables,
} from './backup.repository.ts';
import { BackupError, translateRowSecurityError } from './backup-errors.ts';
import {
  type BackupHeader,
  type BackupMode,
  backupFileName,
  backupFormatVersion,
  encodeRowLine,
  manifestPathFor,
} from './backup-format.ts';
import {
  type BackupManifest,
  describeEncryption,
  manifestFormatVersion,
  signManifest,
} from './backup-manifest.ts';
import { protectedFileMode as fileMode, writeCompressedFile } from './compressed-file.ts';
import {
  type DatabaseExecutor,
  readAppliedMigrations,
  readSequenceStates,
  readTableCatalog,
  type TableShape,
} from './table-catalog.ts';

export { type BackupListing, listBackups, pruneBackups } from './backup-files.ts';
export { type RestoreOptions, type RestoreResult, restoreBackup } from './backup-restore.ts';
export { type VerifyResult, verifyBackup } from './backup-verify.ts';

export interface BackupProgress {
  table: string;
  rowsDone: number;
  rowsTotal: number;
}

export type ProgressListener = (progress: BackupProgress) => void;

export interface CreateBackupOptions {
  mode: BackupMode;
  outDirectory: string;
  /** Signs the manifest; encrypts the file when `keys.encryption` is set. */
  keys: BackupKeys;
  onProgress?: ProgressListener | undefined;
}

export interface BackupResult {
  path: string;
  manifestPath: string;
  manifest: BackupManifest;
}

interface Snapshot {
  header: BackupHeader;
  tables: TableShape[];
  rowCounts: Record<string, number>;
}

// A backup holds every customer's data: only the owner may read it, whatever the umask allows.
const directoryMode = 0o700;

/**
 * Writes one backup file and its manifest, then records the run in `backups`. The file is written under
 * a temporary name and renamed only when complete, so a crash never leaves a plausible half-backup.
 * Both files are created with mode 0600, and the directory, when this creates it, with 0700.
 */
export async function createBackup(
  handle: DatabaseHandle,
  options: CreateBackupOptions,
): Promise<BackupResult> {
  await mkdir(options.outDirectory, { recursive: true, mode: directoryMode });
  const createdAt = new Date();
  const encryption = options.keys.encryption;
  const path = join(options.outDirectory, backupFileName(options.mode, createdAt, encryption !== undefined));
  await assertAbsent(path);
  const temporaryPath = `${path}.partial`;
  let snapshot: Snapshot;
  let written: { sha256: string; sizeBytes: number };
  try {
    [snapshot, written] = await handle.db.transaction().execute(async (transaction) => {
      await enterReadOnlySnapshot(transaction);
      const taken = await takeSnapshot(transaction, handle, options.mode, createdAt);
      const lines = backupLines(transaction, taken, options.onProgress);
      return [taken, await writeCompressedFile(temporaryPath, lines, encryption?.key)] as const;
    });
    await rename(temporaryPath, path);
  } catch (error) {
    await rm(temporaryPath, { force: true });
    throw translateRowSecurityError(error);
  }
  const manifest = signManifest(
    { ...unsignedManifest(path, snapshot, written), encryption: describeEncryption(encryption) },
    options.keys.manifest,
  );
  const manifestPath = manifestPathFor(path);
  await writeFile(`${manifestPath}.partial`, `${JSON.stringify(manifest, null, 2)}\n`, {
    flag: 'wx',
    mode: fileMode,
  });
  await rename(`${manifestPath}.partial`, manifestPath);
  await recordBackup(handle.db, manifest);
  return { path, manifestPath, manifest };
}

async function assertAbsent(path: string): Promise<void> {
  const exists = await access(path).then(
    () => true,
    () => false,
  );
  if (exists) throw new BackupError('BACKUP_FILE_EXISTS', `backup file ${path} already exists; try again`);
}

async function takeSnapshot(
  transaction: DatabaseExecutor,
  handle: DatabaseHandle,
  mode: BackupMode,
  createdAt: Date,
): Promise<Snapshot> {
  const migrations = await readAppliedMigrations(transaction);
  if (migrations.length === 0) {
    throw new BackupError(
      'BACKUP_SCHEMA_MISMATCH',
      'the database has no migrations applied; run `corebank db migrate` first',
    );
  }
  const { tables } = await readTableCatalog(transaction);
  const withRows = mode !== 'schema-only';
  const header: BackupHeader = {
    format: 'corebank-backup',
    format_version: backupFormatVersion,
    mode,
    created_at: createdAt.toISOString(),
    engine: handle.engine,
    schema_version: migrations.at(-1) ?? '',
    migrations,
    tables: withRows ? tables.map((table) => table.name) : [],
    catalog: mode === 'data-only' ? undefined : tables,
    sequences: withRows ? await readSequenceStates(transaction) : [],
  };
  const rowCounts = withRows ? await countRows(transaction, header.tables) : {};
  return { header, tables: withRows ? tables : [], rowCounts };
}

async function* backupLines(
  transaction: DatabaseExecutor,
  snapshot: Snapshot,
  onProgress: ProgressListener | undefined,
): AsyncGenerator<string> {
  yield `${JSON.stringify(snapshot.header)}\n`;
  const rowsTotal = Object.values(snapshot.rowCounts).reduce((sum, count) => sum + count, 0);
  let rowsDone = 0;
  for (const table of snapshot.tables) {
    let tableRows = 0;
    for await (const batch of readRowBatches(transaction, table)) {
      tableRows += batch.length;
      rowsDone += batch.length;
      yield batch.map((rowJson) => encodeRowLine(table.name, rowJson)).join('');
      onProgress?.({ table: table.name, rowsDone, rowsTotal });
    }
    // The count and the rows come from one snapshot; a difference would mean the file is not that snapshot.
    assert.equal(
      tableRows,
      snapshot.rowCounts[table.name],
      `rows read from ${table.name} differ from its count`,
    );
  }
}

function unsignedManifest(
  path: string,
  snapshot: Snapshot,
  written: { sha256: string; sizeBytes: number },
): Omit<BackupManifest, 'mac' | 'encryption'> {
  const { header } = snapshot;
  return {
    format_version: manifestFormatVersion,
    file: basename(path),
    mode: header.mode,
    sha256: written.sha256,
    size_bytes: written.sizeBytes,
    schema_version: header.schema_version,
    migrations: header.migrations,
    row_counts: snapshot.rowCounts,
    engine: header.engine,
    created_at: header.created_at,
  };
}

/**
 * Empties every data table in one transaction (the migrator's tables and `backups` stay) and returns
 * how many rows each held. Locks first so the counts are exactly what the truncate removes.
 */
export async function clearDatabase(handle: DatabaseHandle): Promise<Record<string, number>> {
  try {
    return await handle.db.transaction().execute(async (transaction) => {
      await enterMaintenance(transaction);
      const names = (await readTableCatalog(transaction)).tables.map((table) => table.name);
      await lockTables(transaction, names);
      const counts = await countRows(transaction, names);
      await truncateTables(transaction, names);
      return counts;
    });
  } catch (error) {
    throw translateRowSecurityError(error);
  }
}
