import { migrationLockTableName, migrationTableName } from '../../db/migrator.ts';
import { BackupError } from './backup-errors.ts';
import {
  type DatabaseExecutor,
  selectAppliedMigrations,
  selectColumns,
  selectConstraints,
  selectForeignKeyReferences,
  selectInsertTriggers,
  selectPrimaryKeyColumns,
  selectSequenceNames,
  selectSequenceState,
  selectTopLevelTables,
} from './table-catalog.repository.ts';

export type { DatabaseExecutor } from './table-catalog.repository.ts';
export { qualifiedTable, writeSequenceState } from './table-catalog.repository.ts';

/**
 * Tables that never go into a backup and are never cleared: the migrator's bookkeeping (a restore must
 * not rewind which migrations ran) and the record of backups itself (a restore must not erase it).
 */
export const excludedTableNames: readonly string[] = [migrationTableName, migrationLockTableName, 'backups'];

export interface ColumnShape {
  name: string;
  type: string;
  notNull: boolean;
  /** GENERATED ALWAYS AS (…) STORED: computed by PostgreSQL, never inserted. */
  generated: boolean;
  /** GENERATED ALWAYS AS IDENTITY: inserting an explicit value needs OVERRIDING SYSTEM VALUE. */
  identityAlways: boolean;
}

export interface ConstraintShape {
  name: string;
  kind: string;
  definition: string;
}

export interface TableShape {
  name: string;
  partitioned: boolean;
  columns: ColumnShape[];
  primaryKey: string[];
  constraints: ConstraintShape[];
  /** Data tables this table references through a foreign key (itself excluded). */
  references: string[];
}

/** Every data table of the application schema, parents before children in foreign-key order. */
export interface TableCatalog {
  tables: TableShape[];
}

// Identifiers are interpolated into the backup file's line prefix and into SQL (always quoted); a name
// outside this set would be a schema the format was not designed for, so it stops the backup loudly.
const tableNamePattern = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

export async function readTableCatalog(db: DatabaseExecutor): Promise<TableCatalog> {
  const names = await readDataTableNames(db);
  // Sequential on purpose: inside a transaction every query shares one connection.
  const columns = await readColumns(db, names);
  const primaryKeys = await readPrimaryKeys(db, names);
  const constraints = await readConstraints(db, names);
  const references = await readForeignKeyReferences(db, names);
  const tables = names.map((name) => ({
    name: name.name,
    partitioned: name.partitioned,
    columns: columns.get(name.name) ?? [],
    primaryKey: primaryKeys.get(name.name) ?? [],
    constraints: constraints.get(name.name) ?? [],
    references: [...(references.get(name.name) ?? [])].sort(),
  }));
  return { tables: sortParentsFirst(tables) };
}

interface TableName {
  name: string;
  partitioned: boolean;
}

/** Partitions are reached through their parent, so only top-level tables count. */
async function readDataTableNames(db: DatabaseExecutor): Promise<TableName[]> {
  const names = (await selectTopLevelTables(db)).filter((row) => !excludedTableNames.includes(row.name));
  for (const { name } of names) {
    if (!tableNamePattern.test(name)) {
      throw new BackupError('BACKUP_CONTENT_INVALID', `table name "${name}" is not a plain identifier`);
    }
  }
  return names;
}

function groupByTable<T>(rows: (T & { table_name: string })[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const group = groups.get(row.table_name) ?? [];
    group.push(row);
    groups.set(row.table_name, group);
  }
  return groups;
}

async function readColumns(db: DatabaseExecutor, tables: TableName[]): Promise<Map<string, ColumnShape[]>> {
  const rows = await selectColumns(
    db,
    tables.map((table) => table.name),
  );
  const columns = new Map<string, ColumnShape[]>();
  for (const [table, tableRows] of groupByTable(rows)) {
    columns.set(
      table,
      tableRows.map((row) => ({
        name: row.name,
        type: row.type,
        notNull: row.not_null,
        generated: row.generated,
        identityAlways: row.identity_always,
      })),
    );
  }
  return columns;
}

async function readPrimaryKeys(db: DatabaseExecutor, tables: TableName[]): Promise<Map<string, string[]>> {
  const rows = await selectPrimaryKeyColumns(
    db,
    tables.map((table) => table.name),
  );
  const keys = new Map<string, string[]>();
  for (const [table, tableRows] of groupByTable(rows)) {
    keys.set(
      table,
      tableRows.map((row) => row.column_name),
    );
  }
  return keys;
}

/** Constraint definitions for the schema snapshot (NOT NULL is carried by the column shape). */
async function readConstraints(
  db: DatabaseExecutor,
  tables: TableName[],
): Promise<Map<string, ConstraintShape[]>> {
  const rows = await selectConstraints(
    db,
    tables.map((table) => table.name),
  );
  const constraints = new Map<string, ConstraintShape[]>();
  for (const [table, tableRows] of groupByTable(rows)) {
    constraints.set(
      table,
      tableRows.map(({ name, kind, definition }) => ({ name, kind, definition })),
    );
  }
  return constraints;
}

/** Only constraints between two top-level data tables count. */
async function readForeignKeyReferences(
  db: DatabaseExecutor,
  tables: TableName[],
): Promise<Map<string, Set<string>>> {
  const rows = await selectForeignKeyReferences(
    db,
    tables.map((table) => table.name),
  );
  const references = new Map<string, Set<string>>();
  for (const row of rows) {
    // A self-reference orders rows within one table, not tables; the restore inserts a table's rows in
    // statements whose foreign keys are checked at the end of each statement.
    if (row.referenced === row.table_name) continue;
    const set = references.get(row.table_name) ?? new Set<string>();
    set.add(row.referenced);
    references.set(row.table_name, set);
  }
  return references;
}

/**
 * Orders tables so every table comes after the tables it references (Kahn's algorithm, ties by name so
 * the order is stable). Foreign keys are not deferrable, so a restore must insert in this order.
 */
export function sortParentsFirst(tables: TableShape[]): TableShape[] {
  const remaining = new Map(tables.map((table) => [table.name, table]));
  const ordered: TableShape[] = [];
  while (remaining.size > 0) {
    const ready = [...remaining.values()]
      .filter((table) => table.references.every((reference) => !remaining.has(reference)))
      .sort((left, right) => left.name.localeCompare(right.name));
    if (ready.length === 0) {
      const cycle = [...remaining.keys()].sort().join(', ');
      throw new BackupError(
        'BACKUP_FOREIGN_KEY_CYCLE',
        `the foreign keys between ${cycle} form a cycle; make one of them deferrable so a restore can order them`,
      );
    }
    for (const table of ready) {
      ordered.push(table);
      remaining.delete(table.name);
    }
  }
  return ordered;
}

export interface SequenceState {
  name: string;
  lastValue: string;
  isCalled: boolean;
}

/** Sequences of the application schema, except those owned by an excluded table. */
export async function readSequenceNames(db: DatabaseExecutor): Promise<string[]> {
  return selectSequenceNames(db, excludedTableNames);
}

export async function readSequenceStates(db: DatabaseExecutor): Promise<SequenceState[]> {
  const states: SequenceState[] = [];
  for (const name of await readSequenceNames(db)) {
    const row = await selectSequenceState(db, name);
    if (row) states.push({ name, lastValue: row.last_value, isCalled: row.is_called });
  }
  return states;
}

/** Names of the applied migrations in the order they apply; the last one is the schema version. */
export async function readAppliedMigrations(db: DatabaseExecutor): Promise<string[]> {
  return selectAppliedMigrations(db);
}

/** Names of user triggers that fire on INSERT, per table; a restore disables them while it loads rows. */
export async function readInsertTriggers(
  db: DatabaseExecutor,
  tables: string[],
): Promise<Map<string, string[]>> {
  const rows = await selectInsertTriggers(db, tables);
  const triggers = new Map<string, string[]>();
  for (const [table, tableRows] of groupByTable(rows)) {
    triggers.set(
      table,
      tableRows.map((row) => row.trigger_name),
    );
  }
  return triggers;
}
