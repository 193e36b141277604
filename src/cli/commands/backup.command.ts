import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { DatabaseHandle } from '../../db/database.ts';
import {
  type BackupListing,
  type BackupProgress,
  clearDatabase,
  createBackup,
  listBackups,
  pruneBackups,
  restoreBackup,
  type VerifyResult,
  verifyBackup,
} from '../../modules/backup/backup.service.ts';
import { BackupError } from '../../modules/backup/backup-errors.ts';
import type { BackupMode } from '../../modules/backup/backup-format.ts';
import { createProgress, type Progress } from '../progress.ts';
import { CliError, type CliRuntime } from '../runtime.ts';
import { withDatabase } from './with-database.ts';

const retentionDaysMax = 3650;

/** Adds backup, restore, verify-backup, list-backups, prune-backups and clear under `corebank db`. */
export function registerBackupCommands(dbCommand: Command, runtime: CliRuntime): void {
  registerBackup(dbCommand, runtime);
  registerRestore(dbCommand, runtime);
  registerVerifyBackup(dbCommand, runtime);
  registerListBackups(dbCommand, runtime);
  registerPruneBackups(dbCommand, runtime);
  registerClear(dbCommand, runtime);
}

function registerBackup(dbCommand: Command, runtime: CliRuntime): void {
  dbCommand
    .command('backup')
    .description(
      'Write a gzip backup of every data table (AES-256-GCM encrypted when BACKUP_ENCRYPTION_KEY is set) ' +
        'with a signed manifest (SHA-256, row counts, schema version)',
    )
    .option('--schema-only', 'record the schema version and snapshot only, no rows')
    .option('--data-only', 'record the rows without the schema snapshot')
    .option('--out <directory>', 'directory to write to (default: BACKUP_DIR, ./backups)')
    .action(async (options: { schemaOnly?: boolean; dataOnly?: boolean; out?: string }) => {
      if (options.schemaOnly && options.dataOnly) {
        throw new CliError(
          '--schema-only and --data-only exclude each other; pass one of them, or neither for a full backup',
        );
      }
      const mode: BackupMode = options.schemaOnly ? 'schema-only' : options.dataOnly ? 'data-only' : 'full';
      const outDirectory = resolve(options.out ?? runtime.config().backupDirectory);
      const keys = runtime.config().backup.keys;
      const reporter = progressReporter('backup');
      const result = await withBackupDatabase(runtime, (handle) =>
        createBackup(handle, { mode, outDirectory, keys, onProgress: reporter.onProgress }),
      ).finally(reporter.finish);
      const { manifest } = result;
      const tableCount = Object.keys(manifest.row_counts).length;
      print(
        `backup written: ${result.path}`,
        `  mode ${manifest.mode}, ${sumOf(manifest.row_counts)} rows in ${tableCount} tables, ${manifest.size_bytes} bytes`,
        `  schema version ${manifest.schema_version}, sha256 ${manifest.sha256}`,
        `  ${encryptionOf(manifest.encryption)}, manifest signed with key id ${manifest.mac.key_id}`,
      );
    });
}

function registerRestore(dbCommand: Command, runtime: CliRuntime): void {
  dbCommand
    .command('restore')
    .description(
      'Replace every data table with the rows of a verified backup (signature, checksum and key checked ' +
        'first; one transaction, all or nothing)',
    )
    .requiredOption('--file <path>', backupFileHelp)
    .action(async (options: { file: string }) => {
      const file = resolve(options.file);
      const keys = runtime.config().backup.keys;
      const reporter = progressReporter('restore');
      const result = await withBackupDatabase(runtime, (handle) =>
        restoreBackup(handle, { file, keys, onProgress: reporter.onProgress }),
      ).finally(reporter.finish);
      if (result.manifest.mode === 'schema-only') {
        print(
          `verified ${file}: the database is at schema version ${result.manifest.schema_version}; no rows changed`,
        );
        return;
      }
      print(
        `restored ${file}: ${result.rowsRestored} rows into ${Object.keys(result.rowCounts).length} tables`,
        `  schema version ${result.manifest.schema_version}, sha256 ${result.manifest.sha256}`,
      );
    });
}

const backupFileHelp =
  'the .cbk.gz (or encrypted .cbk.gz.enc) backup file; its .manifest.json must sit beside it';

function registerVerifyBackup(dbCommand: Command, runtime: CliRuntime): void {
  dbCommand
    .command('verify-backup')
    .description(
      'Check a backup without restoring it: manifest signature, size, SHA-256, decryption and ' +
        'decompression to the end, header, every row line and the row counts (no database needed)',
    )
    .requiredOption('--file <path>', backupFileHelp)
    .action(async (options: { file: string }) => {
      const file = resolve(options.file);
      const keys = runtime.config().backup.keys;
      const reporter = progressReporter('verify');
      let result: VerifyResult;
      try {
        result = await verifyBackup(file, keys, reporter.onProgress).finally(reporter.finish);
      } catch (error) {
        if (error instanceof BackupError) throw new CliError(error.message);
        throw error;
      }
      const { manifest } = result;
      print(
        `verified ${file}: mode ${manifest.mode}, ${result.rowsChecked} rows in ` +
          `${Object.keys(manifest.row_counts).length} tables, schema version ${manifest.schema_version}`,
        `  ${encryptionOf(manifest.encryption)}, manifest signed with key id ${manifest.mac.key_id}`,
      );
    });
}

function encryptionOf(encryption: { key_id: string } | null): string {
  return encryption ? `encrypted (AES-256-GCM, key id ${encryption.key_id})` : 'not encrypted';
}

function registerListBackups(dbCommand: Command, runtime: CliRuntime): void {
  dbCommand
    .command('list-backups')
    .description('List backups newest first, checking each file against its signed manifest')
    .option('--path <directory>', 'directory to list (default: BACKUP_DIR, ./backups)')
    .action(async (options: { path?: string }) => {
      const directory = resolve(options.path ?? runtime.config().backupDirectory);
      const listings = await listBackups(directory, runtime.config().backup.keys);
      if (listings.length === 0) {
        print(`no backups in ${directory}`);
        return;
      }
      print(...listings.map(formatListing));
    });
}

function formatListing(listing: BackupListing): string {
  const status = listing.problem ? `PROBLEM: ${listing.problem}` : 'signature and sha256 ok';
  const fields = [
    listing.createdAt.toISOString(),
    (listing.mode ?? '?').padEnd(11),
    `${listing.sizeBytes ?? '?'} bytes`.padStart(14),
    `${listing.rowTotal ?? '?'} rows`.padStart(12),
    `schema ${listing.schemaVersion ?? '?'}`,
    listing.mode === undefined
      ? '?'
      : listing.encryptionKeyId
        ? `encrypted ${listing.encryptionKeyId}`
        : 'plaintext',
    listing.file,
    status,
  ];
  return fields.join('  ');
}

function registerPruneBackups(dbCommand: Command, runtime: CliRuntime): void {
  dbCommand
    .command('prune-backups')
    .description('Delete backups (and their manifests) older than the retention period')
    .option('--path <directory>', 'directory to prune (default: BACKUP_DIR, ./backups)')
    .option('--days <days>', 'retention in days (default: BACKUP_RETENTION_DAYS)')
    .action(async (options: { path?: string; days?: string }) => {
      const directory = resolve(options.path ?? runtime.config().backupDirectory);
      const retentionDays =
        options.days === undefined ? runtime.config().backupRetentionDays : parseRetentionDays(options.days);
      const deleted = await pruneBackups(directory, retentionDays);
      if (deleted.length === 0) {
        print(`no backups older than ${retentionDays} days in ${directory}`);
        return;
      }
      print(
        `deleted ${deleted.length} backups older than ${retentionDays} days:`,
        ...deleted.map((it) => `  ${it.path}`),
      );
    });
}

function parseRetentionDays(text: string): number {
  const days = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(days) || days < 1 || days > retentionDaysMax) {
    throw new CliError(`--days must be a whole number from 1 to ${retentionDaysMax}, got "${text}"`);
  }
  return days;
}

function registerClear(dbCommand: Command, runtime: CliRuntime): void {
  dbCommand
    .command('clear')
    .description('Delete every row of every data table (migrations and the backup record stay)')
    .option('--yes', 'confirm that every row may be deleted')
    .action(async (options: { yes?: boolean }) => {
      if (!options.yes) {
        throw new CliError('clear deletes every row of every data table; pass --yes to confirm');
      }
      const counts = await withBackupDatabase(runtime, (handle) => clearDatabase(handle));
      print(`cleared ${sumOf(counts)} rows from ${Object.keys(counts).length} tables`);
    });
}

/** Runs `work` with the database open (closed afterwards) and turns backup failures into CLI errors. */
async function withBackupDatabase<T>(
  runtime: CliRuntime,
  work: (handle: DatabaseHandle) => Promise<T>,
): Promise<T> {
  try {
    return await withDatabase(runtime, work);
  } catch (error) {
    if (error instanceof BackupError) throw new CliError(error.message);
    throw error;
  }
}

/** Shows a progress display once the total is known (the first event carries it). */
function progressReporter(label: string): {
  onProgress: (progress: BackupProgress) => void;
  finish: () => void;
} {
  let progress: Progress | undefined;
  let reported = 0;
  return {
    onProgress: ({ rowsDone, rowsTotal }) => {
      progress ??= createProgress({ label: `${label} rows`, total: rowsTotal });
      progress.tick(rowsDone - reported);
      reported = rowsDone;
    },
    finish: () => progress?.done(),
  };
}

function sumOf(counts: Record<string, number>): number {
  return Object.values(counts).reduce((sum, count) => sum + count, 0);
}

function print(...lines: string[]): void {
  process.stdout.write(`${lines.join('\n')}\n`);
}
