import type { Kysely } from 'kysely';
import type { BackupKeys } from '../../config/backup-config.ts';
import type { Database } from '../../db/schema.ts';
import { applicationRole, applyScope } from '../../db/tenant-transaction.ts';
import { recordAudit } from '../../platform/audit/audit-trail.ts';
import {
  countPartitionByTenant,
  countRows,
  deleteUnheldRows,
  dropPartition,
  enterRetentionMaintenance,
  type HeldSets,
  insertArchiveRecord,
  leaveRetentionMaintenance,
  lockHoldsAndIncidents,
  markCleanup,
  type OwnerTransaction,
  type PolicyRow,
  type RowRange,
  readPolicyForRun,
  selectArchivePage,
  selectIncidentEventIds,
  selectMonthlyPartitions,
  type TenantCounts,
  tryLockTable,
} from './retention.repository.ts';
import {
  type ArchiveHeader,
  discardArchive,
  type WrittenArchive,
  writeArchive,
} from './retention-archive.ts';
import { type RetentionTable, retentionTable, retentionTables } from './retention-tables.ts';

const dayMs = 24 * 60 * 60 * 1000;
const archivePageRows = 1000;

export interface RunProgress {
  tick(count: number): void;
  done(): void;
}

export interface RetentionRunOptions {
  dryRun: boolean;
  /** Only these tables (`--table`); every policy's table when undefined. */
  tables?: readonly string[] | undefined;
  archiveDirectory: string;
  keys: BackupKeys;
  /** The users under an unexpired, unreleased legal hold (every tenant). */
  heldUserIds: (transaction: OwnerTransaction, now: Date) => Promise<string[]>;
  now?: Date;
  /** A progress display for archiving `total` rows of a table (the CLI draws it on a terminal). */
  progress?: (label: string, total: number) => RunProgress;
}

export type TableStatus = 'done' | 'busy' | 'inactive' | 'unsupported' | 'no_policy';

export interface TableOutcome {
  table: string;
  status: TableStatus;
  /** Why nothing (or less) was done: a busy lock, a refusal. */
  message: string | undefined;
  rowsArchived: number;
  rowsDeleted: number;
  /** Rows past their delete age kept because a legal hold or an open incident names them. */
  rowsKept: number;
  partitionsDropped: string[];
  files: string[];
}

export interface RetentionRunResult {
  dryRun: boolean;
  tables: TableOutcome[];
}

/**
 * Runs every active policy once: archives rows past their archive age, then deletes rows past their
 * delete age that were archived (whole monthly partitions when none of their rows is held), keeping
 * rows a legal hold or an open incident names. One transaction per table, under a transaction-level
 * advisory lock: a concurrent run skips a table another holds (reported `busy`), and reads the
 * watermark after the lock, so nothing is archived or deleted twice.
 */
export async function runRetention(
  db: Kysely<Database>,
  options: RetentionRunOptions,
): Promise<RetentionRunResult> {
  const now = options.now ?? new Date();
  const names = options.tables ?? retentionTables.map((table) => table.name);
  const tables: TableOutcome[] = [];
  for (const name of names) tables.push(await runTable(db, name, now, options));
  return { dryRun: options.dryRun, tables };
}

function emptyOutcome(table: string, status: TableStatus, message?: string): TableOutcome {
  return {
    table,
    status,
    message,
    rowsArchived: 0,
    rowsDeleted: 0,
    rowsKept: 0,
    partitionsDropped: [],
    files: [],
  };
}

interface TableRun {
  transaction: OwnerTransaction;
  table: RetentionTable;
  policy: PolicyRow;
  held: HeldSets;
  now: Date;
  options: RetentionRunOptions;
  outcome: TableOutcome;
  tenantCounts: TenantCounts;
  archive: WrittenArchive | undefined;
}

async function runTable(
  db: Kysely<Database>,
  name: string,
  now: Date,
  options: RetentionRunOptions,
): Promise<TableOutcome> {
  const table = retentionTable(name);
  if (!table) return emptyOutcome(name, 'unsupported', 'the retention job does not clean this table');
  let written: WrittenArchive | undefined;
  try {
    return await db.transaction().execute(async (transaction) => {
      await enterRetentionMaintenance(transaction);
      if (!(await tryLockTable(transaction, name))) {
        return emptyOutcome(name, 'busy', 'another retention run is cleaning this table; skipped');
      }
      const policy = await readPolicyForRun(transaction, name);
      if (!policy) return emptyOutcome(name, 'no_policy', 'no retention policy names this table');
      if (!policy.is_active) return emptyOutcome(name, 'inactive', 'the policy is not active');
      await lockHoldsAndIncidents(transaction, table.incidentEvents);
      const held = {
        userIds: await options.heldUserIds(transaction, now),
        eventIds: table.incidentEvents ? await selectIncidentEventIds(transaction) : [],
      };
      const run: TableRun = {
        ...{ transaction, table, policy, held, now, options },
        outcome: emptyOutcome(name, 'done'),
        tenantCounts: new Map(),
        archive: undefined,
      };
      const archivedThrough = await archiveStep(run);
      written = run.archive;
      await deleteStep(run, archivedThrough);
      if (!options.dryRun) await commitStep(run, archivedThrough);
      return run.outcome;
    });
  } catch (error) {
    // The rows are still in the database: an archive of them must not stay behind as if it counted.
    if (written) await discardArchive(written.path);
    throw error;
  }
}

/** The age cutoff `days` before now. */
function cutoff(now: Date, days: number): Date {
  return new Date(now.getTime() - days * dayMs);
}

/**
 * Copies [archived_through, now − archive_after_days) to one archive file and returns the new
 * watermark (the old one when the table does not archive, null when it never did).
 */
async function archiveStep(run: TableRun): Promise<Date | null> {
  const { policy, table, transaction, options, outcome } = run;
  if (!table.archivable || policy.archive_after_days === null) return policy.archived_through;
  const to = cutoff(run.now, policy.archive_after_days);
  const from = policy.archived_through ?? undefined;
  if (from && from >= to) return policy.archived_through;
  const range: RowRange = { from, to };
  const total = await countRows(transaction, table.name, range);
  outcome.rowsArchived = total;
  if (options.dryRun || total === 0) return to;
  const header: ArchiveHeader = {
    format: 'corebank-retention-archive',
    format_version: 1,
    table: table.name,
    range_start: from?.toISOString() ?? null,
    range_end: to.toISOString(),
    created_at: run.now.toISOString(),
  };
  const progress = options.progress?.(`archiving ${table.name}`, total);
  run.archive = await writeArchive(
    options.archiveDirectory,
    header,
    archiveRows(run, range, progress),
    options.keys,
  );
  progress?.done();
  outcome.files.push(run.archive.path);
  return to;
}

async function* archiveRows(run: TableRun, range: RowRange, progress: RunProgress | undefined) {
  let after: { createdAt: string; id: string } | undefined;
  for (;;) {
    const page = await selectArchivePage(run.transaction, run.table.name, range, after, archivePageRows);
    for (const row of page) yield row.row;
    progress?.tick(page.length);
    const last = page.at(-1);
    if (!last || page.length < archivePageRows) return;
    after = { createdAt: last.created_at, id: last.id };
  }
}

function addCounts(into: TenantCounts, counts: TenantCounts): number {
  let total = 0;
  for (const [tenantId, count] of counts) {
    into.set(tenantId, (into.get(tenantId) ?? 0) + count);
    total += count;
  }
  return total;
}

/**
 * Deletes what is past the delete age and already archived: whole months first (detach and drop)
 * when no row of the month is held, then the rows left in the range (the default partition, months
 * with held rows, unpartitioned tables) except the held ones.
 */
async function deleteStep(run: TableRun, archivedThrough: Date | null): Promise<void> {
  const { policy, table, transaction, outcome } = run;
  if (policy.delete_after_days === null) return;
  if (table.deleteRefusal) {
    outcome.message = table.deleteRefusal;
    return;
  }
  let limit = cutoff(run.now, policy.delete_after_days);
  if (table.archivable && policy.archive_after_days !== null) {
    if (!archivedThrough) return;
    if (archivedThrough < limit) limit = archivedThrough;
  }
  const keep = { table, held: run.held };
  if (table.partitioned) await dropWholeMonths(run, limit);
  const range: RowRange = { from: undefined, to: limit };
  const total = await countRows(transaction, table.name, range);
  if (run.options.dryRun) {
    const deletable = await countRows(transaction, table.name, range, keep);
    outcome.rowsDeleted = deletable;
    outcome.rowsKept = total - deletable;
    return;
  }
  const deleted = addCounts(run.tenantCounts, await deleteUnheldRows(transaction, table.name, range, keep));
  outcome.rowsDeleted += deleted;
  outcome.rowsKept = total - deleted;
}

async function dropWholeMonths(run: TableRun, limit: Date): Promise<void> {
  const { table, transaction, outcome } = run;
  const keep = { table, held: run.held };
  for (const partition of await selectMonthlyPartitions(transaction, table.name)) {
    if (partition.to > limit) continue;
    const range: RowRange = { from: undefined, to: partition.to };
    const total = await countRows(transaction, partition.name, range);
    const unheld = await countRows(transaction, partition.name, range, keep);
    // A month holding a kept row stays; its other rows go with the row deletes that follow.
    if (unheld !== total) continue;
    outcome.partitionsDropped.push(partition.name);
    // A dry run counts these rows with the rest of the range (deleteStep): nothing is dropped.
    if (run.options.dryRun) continue;
    outcome.rowsDeleted += total;
    addCounts(run.tenantCounts, await countPartitionByTenant(transaction, partition.name));
    await dropPartition(transaction, table.name, partition.name);
  }
}

/** Records the archive and the watermark, then one audit row per tenant whose rows were deleted. */
async function commitStep(run: TableRun, archivedThrough: Date | null): Promise<void> {
  const { transaction, table, outcome } = run;
  if (run.archive) {
    const { manifest } = run.archive;
    await insertArchiveRecord(transaction, {
      table_name: table.name,
      file_name: manifest.file,
      sha256: manifest.sha256,
      size_bytes: manifest.size_bytes,
      row_count: manifest.row_count,
      range_start: manifest.range_start ? new Date(manifest.range_start) : null,
      range_end: new Date(manifest.range_end),
      encryption_key_id: manifest.encryption?.key_id ?? null,
    });
  }
  await markCleanup(transaction, table.name, archivedThrough, run.now);
  // Last: the audit rows are written as the application role in each tenant's scope.
  if (run.tenantCounts.size > 0) await leaveRetentionMaintenance(transaction);
  for (const [tenantId, rowsDeleted] of run.tenantCounts) {
    if (rowsDeleted === 0) continue;
    await applyScope(transaction, { tenantId }, applicationRole);
    await recordAudit(
      transaction,
      { tenantId },
      {
        entityType: 'retention_policy',
        entityId: table.name,
        action: 'RETENTION_RUN',
        eventType: 'DATA_RETENTION',
        details: {
          rows_deleted: rowsDeleted,
          partitions_dropped: outcome.partitionsDropped,
          archive_files: outcome.files.map((path) => path.split('/').at(-1)),
        },
      },
    );
  }
}
