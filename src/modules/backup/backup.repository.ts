import { sql } from 'kysely';
import type { BackupManifest } from './backup-manifest.ts';
import { type DatabaseExecutor, qualifiedTable } from './table-catalog.repository.ts';
import type { TableShape } from './table-catalog.ts';

/** Rows fetched per round trip when reading, and the most rows or bytes sent in one insert. */
export const readBatchRowsMax = 1000;
export const insertBatchRowsMax = 1000;
export const insertBatchBytesMax = 8 * 1024 * 1024;

/**
 * Opens maintenance for the rest of the transaction: the append-only triggers let the owner truncate,
 * and row_security off makes PostgreSQL refuse (rather than silently filter) a query that row-level
 * security would narrow to one tenant, so a backup or restore never covers part of the data unnoticed.
 */
export async function enterMaintenance(transaction: DatabaseExecutor): Promise<void> {
  await sql`select set_config('corebank.maintenance', 'on', true),
                   set_config('row_security', 'off', true)`.execute(transaction);
}

/**
 * Makes the transaction one consistent, read-only snapshot: every table of a backup is read as of the
 * same instant, so the foreign keys between them hold in the file. Must be the first statement.
 */
export async function enterReadOnlySnapshot(transaction: DatabaseExecutor): Promise<void> {
  await sql`set transaction isolation level repeatable read, read only`.execute(transaction);
  // A scheduled backup runs on the server's connections, whose statement_timeout suits requests.
  await sql`select set_config('row_security', 'off', true),
                   set_config('statement_timeout', '0', true)`.execute(transaction);
}

export async function countRows(db: DatabaseExecutor, tables: string[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const result = await sql<{ count: number | string }>`
      select count(*) as count from ${qualifiedTable(table)}`.execute(db);
    counts[table] = Number(result.rows[0]?.count ?? 0);
  }
  return counts;
}

/** One statement for all tables: foreign keys are not deferrable, so truncating one at a time fails. */
export async function truncateTables(transaction: DatabaseExecutor, tables: string[]): Promise<void> {
  if (tables.length === 0) return;
  await sql`truncate table ${sql.join(tables.map((table) => qualifiedTable(table)))}`.execute(transaction);
}

export async function lockTables(transaction: DatabaseExecutor, tables: string[]): Promise<void> {
  if (tables.length === 0) return;
  await sql`lock table ${sql.join(tables.map((table) => qualifiedTable(table)))} in access exclusive mode`.execute(
    transaction,
  );
}

/**
 * Reads a table's rows as JSON text, in primary-key order, a batch at a time through a cursor: the
 * cursor keeps memory bounded without needing a comparable key, and inside the backup's snapshot
 * transaction it sees exactly the rows that were counted.
 */
export async function* readRowBatches(
  transaction: DatabaseExecutor,
  table: TableShape,
): AsyncGenerator<string[]> {
  const order =
    table.primaryKey.length > 0
      ? sql`order by ${sql.join(table.primaryKey.map((column) => sql.id('t', column)))}`
      : sql``;
  await sql`declare backup_rows no scroll cursor for
            select ${rowAsJson(table)} as row from ${qualifiedTable(table.name)} as t ${order}`.execute(
    transaction,
  );
  for (;;) {
    const result = await sql<{ row: string }>`
      fetch forward ${sql.lit(readBatchRowsMax)} from backup_rows`.execute(transaction);
    if (result.rows.length === 0) break;
    yield result.rows.map((row) => row.row);
  }
  await sql`close backup_rows`.execute(transaction);
}

/**
 * row_to_json costs about half of to_jsonb (no binary conversion, no key sorting) and gives the same
 * exact text, except that it copies `json` columns verbatim, newlines included; a table with one is read
 * through to_jsonb, which normalizes them, so a row always stays on one line of the file.
 */
function rowAsJson(table: TableShape) {
  const hasJsonColumn = table.columns.some((column) => /^json\b/.test(column.type));
  return hasJsonColumn ? sql`to_jsonb(t)::text` : sql`row_to_json(t)::text`;
}

/**
 * Inserts rows given as jsonb texts. jsonb_populate_recordset turns each into the table's row type, so
 * every column keeps its exact type (numeric, bigint, inet, arrays). Generated columns are computed by
 * PostgreSQL and left out; identity columns keep their backed-up values.
 */
export async function insertRows(
  transaction: DatabaseExecutor,
  table: TableShape,
  rowJsons: string[],
): Promise<number> {
  if (rowJsons.length === 0) return 0;
  const columns = table.columns.filter((column) => !column.generated).map((column) => sql.id(column.name));
  const columnList = sql.join(columns);
  const overriding = table.columns.some((column) => column.identityAlways)
    ? sql`overriding system value`
    : sql``;
  const result = await sql`
    insert into ${qualifiedTable(table.name)} (${columnList}) ${overriding}
    select ${columnList} from jsonb_populate_recordset(null::${qualifiedTable(table.name)}, ${`[${rowJsons.join(',')}]`}::jsonb)`.execute(
    transaction,
  );
  return Number(result.numAffectedRows ?? 0n);
}

/** Turns user INSERT triggers off (or back on) for the load: a restore writes rows as they were. */
export async function setTriggersEnabled(
  transaction: DatabaseExecutor,
  triggersByTable: Map<string, string[]>,
  enabled: boolean,
): Promise<void> {
  const action = enabled ? sql`enable` : sql`disable`;
  for (const [table, triggers] of triggersByTable) {
    for (const trigger of triggers) {
      await sql`alter table ${qualifiedTable(table)} ${action} trigger ${sql.id(trigger)}`.execute(
        transaction,
      );
    }
  }
}

/** Records a completed backup in `backups` (a restore never erases this table). */
export async function recordBackup(db: DatabaseExecutor, manifest: BackupManifest): Promise<void> {
  await sql`
    insert into backups (file_name, mode, sha256, size_bytes, schema_version, row_counts, engine, created_at)
    values (${manifest.file}, ${manifest.mode}, ${manifest.sha256}, ${manifest.size_bytes},
            ${manifest.schema_version}, ${JSON.stringify(manifest.row_counts)}::jsonb, ${manifest.engine},
            ${manifest.created_at}::timestamptz)`.execute(db);
}

// One key for every server: scheduled backups of the cluster take turns (runScheduledBackup).
const scheduleLockName = 'corebank.backup-schedule';

/** A session advisory lock on this connection; false when another process holds it. */
export async function tryLockBackupSchedule(connection: DatabaseExecutor): Promise<boolean> {
  const result = await sql<{ locked: boolean }>`
    select pg_try_advisory_lock(hashtextextended(${scheduleLockName}, 0)) as locked`.execute(connection);
  return result.rows[0]?.locked === true;
}

export async function unlockBackupSchedule(connection: DatabaseExecutor): Promise<void> {
  await sql`select pg_advisory_unlock(hashtextextended(${scheduleLockName}, 0))`.execute(connection);
}

/** Whether any process recorded a full backup in the last `ageMs` (by the database's clock). */
export async function hasFullBackupSince(db: DatabaseExecutor, ageMs: number): Promise<boolean> {
  const result = await sql<{ recent: boolean }>`
    select exists (select 1 from backups
                   where mode = 'full' and created_at > now() - make_interval(secs => ${ageMs / 1000})) as recent`.execute(
    db,
  );
  return result.rows[0]?.recent === true;
}
