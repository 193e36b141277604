import { resolve } from 'node:path';
import type { Command } from 'commander';
import { listPolicies, selectArchiveRecord } from '../../modules/retention/retention.repository.ts';
import { readArchiveRows, verifyArchive } from '../../modules/retention/retention-archive.ts';
import { heldUsersForRetention } from '../../modules/retention/retention-holds.ts';
import {
  type RetentionRunResult,
  runRetention,
  type TableOutcome,
} from '../../modules/retention/retention-run.ts';
import { retentionTable } from '../../modules/retention/retention-tables.ts';
import { createProgress } from '../progress.ts';
import { CliError, type CliRuntime } from '../runtime.ts';
import { withDatabase } from './with-database.ts';

export function registerRetentionCommands(program: Command, runtime: CliRuntime): void {
  const retention = program
    .command('retention')
    .description('apply the retention policies: archive old log rows, delete them, read archives back');
  registerRun(retention, runtime);
  registerReadArchive(retention, runtime);
  registerPolicies(retention, runtime);
}

function registerRun(retention: Command, runtime: CliRuntime): void {
  retention
    .command('run')
    .description('archive rows past their archive age and delete rows past their delete age (held rows kept)')
    .option('--dry-run', 'count what would be archived, deleted and dropped; change nothing')
    .option('--table <table>', 'only this table (repeatable)', collect, [] as string[])
    .option(
      '--archive-dir <directory>',
      'where archives are written (default: RETENTION_ARCHIVE_DIR, ./archives)',
    )
    .action((options: { dryRun?: boolean; table: string[]; archiveDir?: string }) => {
      for (const table of options.table) {
        if (!retentionTable(table))
          throw new CliError(`--table ${table}: the retention job does not clean it`);
      }
      return withDatabase(runtime, async (handle) => {
        const config = runtime.config();
        const result = await runRetention(handle.db, {
          dryRun: options.dryRun ?? false,
          tables: options.table.length > 0 ? options.table : undefined,
          archiveDirectory: resolve(options.archiveDir ?? config.retention.archiveDirectory),
          keys: config.backup.keys,
          heldUserIds: heldUsersForRetention,
          progress: (label, total) => createProgress({ label, total }),
        });
        print(formatRun(result));
      });
    });
}

function registerReadArchive(retention: Command, runtime: CliRuntime): void {
  retention
    .command('read-archive')
    .description('verify an archive (signed manifest, size, SHA-256) and print its rows as JSON Lines')
    .requiredOption('--file <path>', 'the archive file (.jsonl.gz or .jsonl.gz.enc)')
    .option('--verify-only', 'check the archive and print its manifest summary, not its rows')
    .action((options: { file: string; verifyOnly?: boolean }) =>
      withDatabase(runtime, async (handle) => {
        const path = resolve(options.file);
        const keys = runtime.config().backup.keys;
        const manifest = await verifyArchive(path, keys);
        const record = await selectArchiveRecord(handle.db, manifest.file);
        if (!record || record.sha256 !== manifest.sha256) {
          throw new CliError(
            `archive ${manifest.file} is not recorded in retention_archives: its run rolled back (its rows are still in the database) or the file was replaced`,
          );
        }
        if (!options.verifyOnly) {
          for await (const row of readArchiveRows(path, keys))
            process.stdout.write(`${JSON.stringify(row)}\n`);
        }
        process.stderr.write(
          `OK: ${manifest.row_count} rows of ${manifest.table} from ${manifest.range_start ?? 'the start'} to ${manifest.range_end}\n`,
        );
      }),
    );
}

function registerPolicies(retention: Command, runtime: CliRuntime): void {
  retention
    .command('policies')
    .description('list the retention policies (edit them with PATCH /v1/admin/retention-policies/{table})')
    .action(() =>
      withDatabase(runtime, async (handle) => {
        print('table                    retention  archive  delete  active  last cleanup');
        for (const policy of await listPolicies(handle.db)) {
          const days = (value: number | null) => (value === null ? '-' : String(value));
          print(
            `${policy.table_name.padEnd(24)} ${days(policy.retention_period_days).padStart(9)}  ${days(policy.archive_after_days).padStart(7)}  ${days(policy.delete_after_days).padStart(6)}  ${String(policy.is_active).padEnd(6)}  ${policy.last_cleanup_at?.toISOString() ?? 'never'}`,
          );
        }
      }),
    );
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function formatTable(outcome: TableOutcome, dryRun: boolean): string[] {
  const verb = dryRun ? 'would ' : '';
  const lines = [
    `${outcome.table}: ${outcome.status}${outcome.message ? ` — ${outcome.message}` : ''}`,
    `  ${verb}archive ${outcome.rowsArchived} rows, ${verb}delete ${outcome.rowsDeleted} rows, ${outcome.rowsKept} held rows kept`,
  ];
  if (outcome.partitionsDropped.length > 0) {
    lines.push(`  partitions ${dryRun ? 'to drop' : 'dropped'}: ${outcome.partitionsDropped.join(', ')}`);
  }
  for (const file of outcome.files) lines.push(`  wrote ${file}`);
  return lines;
}

function formatRun(result: RetentionRunResult): string {
  const lines = result.tables.flatMap((table) => formatTable(table, result.dryRun));
  const sum = (pick: (table: TableOutcome) => number) =>
    result.tables.reduce((total, table) => total + pick(table), 0);
  lines.push(
    `${result.dryRun ? 'Dry run (nothing changed)' : 'Done'}: ${sum((table) => table.rowsArchived)} rows archived, ` +
      `${sum((table) => table.rowsDeleted)} deleted, ${sum((table) => table.partitionsDropped.length)} partitions dropped, ` +
      `${sum((table) => table.files.length)} files written`,
  );
  return lines.join('\n');
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}
