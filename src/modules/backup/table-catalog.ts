import { sql } from 'kysely';
import type { DatabaseHandle } from '../../db/database.ts';
import { migrationLockTableName, migrationTableName } from '../../db/migrator.ts';
import { BackupError } from './backup-errors.ts';

/** A Kysely instance or a transaction on it: catalog reads run inside the caller's transaction. */
export type DatabaseExecutor = DatabaseHandle['db'];

/**
 * Tables that never go into a backup and are never cleared: the migrator's bookkeeping (a restore must
 * not rewind which migrations ran) and the record of backups itself (a restore must not erase it).
 */
export const excludedTableNames: readonly string[] = [migrationTableName, migrationLockTableName, 'backups'];

const schemaName = 'public';

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

/** Partitions are reached through their parent, so only top-level tables count (relispartition false). */
async function readDataTableNames(db: DatabaseExecutor): Promise<TableName[]> {
  const result = await sql<{ name: string; partitioned: boolean }>`
    select c.relname as name, c.relkind = 'p' as partitioned
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${schemaName}
      and c.relkind in ('r', 'p')
      and not c.relispartition
    order by c.relname`.execute(db);
  const names = result.rows.filter((row) => !excludedTableNames.includes(row.name));
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
  const result = await sql<{
    table_name: string;
    name: string;
    type: string;
    not_null: boolean;
    generated: boolean;
    identity_always: boolean;
  }>`
    select c.relname as table_name, a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
           a.attnotnull as not_null, a.attgenerated <> '' as generated, a.attidentity = 'a' as identity_always
    from pg_attribute a
    join pg_class c on c.oid = a.attrelid
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${schemaName} and c.relname = any(${tables.map((table) => table.name)}::text[])
      and a.attnum > 0 and not a.attisdropped
    order by c.relname, a.attnum`.execute(db);
  const columns = new Map<string, ColumnShape[]>();
  for (const [table, rows] of groupByTable(result.rows)) {
    columns.set(
      table,
      rows.map((row) => ({
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
  const result = await sql<{ table_name: string; column_name: string }>`
    select c.relname as table_name, a.attname as column_name
    from pg_constraint con
    join pg_class c on c.oid = con.conrelid
    join pg_namespace n on n.oid = c.relnamespace
    cross join lateral unnest(con.conkey) with ordinality as key(attnum, position)
    join pg_attribute a on a.attrelid = con.conrelid and a.attnum = key.attnum
    where con.contype = 'p' and n.nspname = ${schemaName}
      and c.relname = any(${tables.map((table) => table.name)}::text[])
    order by c.relname, key.position`.execute(db);
  const keys = new Map<string, string[]>();
  for (const [table, rows] of groupByTable(result.rows)) {
    keys.set(
      table,
      rows.map((row) => row.column_name),
    );
  }
  return keys;
}

/**
 * Constraint definitions for the schema snapshot. NOT NULL constraints are left out: PostgreSQL 18
 * records them in pg_constraint and 15 does not, and the column shape already carries them.
 */
async function readConstraints(
  db: DatabaseExecutor,
  tables: TableName[],
): Promise<Map<string, ConstraintShape[]>> {
  const result = await sql<{ table_name: string; name: string; kind: string; definition: string }>`
    select c.relname as table_name, con.conname as name, con.contype::text as kind,
           pg_get_constraintdef(con.oid) as definition
    from pg_constraint con
    join pg_class c on c.oid = con.conrelid
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${schemaName} and con.contype <> 'n'
      and c.relname = any(${tables.map((table) => table.name)}::text[])
    order by c.relname, con.conname`.execute(db);
  const constraints = new Map<string, ConstraintShape[]>();
  for (const [table, rows] of groupByTable(result.rows)) {
    constraints.set(
      table,
      rows.map(({ name, kind, definition }) => ({ name, kind, definition })),
    );
  }
  return constraints;
}

/** Only constraints between two top-level data tables count; partition-level copies are left out. */
async function readForeignKeyReferences(
  db: DatabaseExecutor,
  tables: TableName[],
): Promise<Map<string, Set<string>>> {
  const names = tables.map((table) => table.name);
  const result = await sql<{ table_name: string; referenced: string }>`
    select child.relname as table_name, parent.relname as referenced
    from pg_constraint con
    join pg_class child on child.oid = con.conrelid
    join pg_class parent on parent.oid = con.confrelid
    join pg_namespace child_namespace on child_namespace.oid = child.relnamespace
    join pg_namespace parent_namespace on parent_namespace.oid = parent.relnamespace
    where con.contype = 'f'
      and child_namespace.nspname = ${schemaName} and parent_namespace.nspname = ${schemaName}
      and child.relname = any(${names}::text[]) and parent.relname = any(${names}::text[])`.execute(db);
  const references = new Map<string, Set<string>>();
  for (const row of result.rows) {
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
  const result = await sql<{ name: string }>`
    select s.relname as name
    from pg_class s
    join pg_namespace n on n.oid = s.relnamespace
    where s.relkind = 'S' and n.nspname = ${schemaName}
      and not exists (
        select 1 from pg_depend d join pg_class owner on owner.oid = d.refobjid
        where d.objid = s.oid and d.deptype in ('a', 'i') and owner.relname = any(${excludedTableNames}::text[])
      )
    order by s.relname`.execute(db);
  return result.rows.map((row) => row.name);
}

export async function readSequenceStates(db: DatabaseExecutor): Promise<SequenceState[]> {
  const states: SequenceState[] = [];
  for (const name of await readSequenceNames(db)) {
    const result = await sql<{ last_value: string; is_called: boolean }>`
      select last_value::text as last_value, is_called from ${sql.id(schemaName, name)}`.execute(db);
    const row = result.rows[0];
    if (row) states.push({ name, lastValue: row.last_value, isCalled: row.is_called });
  }
  return states;
}

export async function writeSequenceState(db: DatabaseExecutor, state: SequenceState): Promise<void> {
  await sql`select setval(format('%I.%I', ${schemaName}::text, ${state.name}::text)::regclass,
                          ${state.lastValue}::bigint, ${state.isCalled}::boolean)`.execute(db);
}

/** Names of the applied migrations in the order they apply; the last one is the schema version. */
export async function readAppliedMigrations(db: DatabaseExecutor): Promise<string[]> {
  const qualified = `${schemaName}.${migrationTableName}`;
  const present = await sql<{ present: boolean }>`
    select to_regclass(${qualified}) is not null as present`.execute(db);
  if (!present.rows[0]?.present) return [];
  const result = await sql<{ name: string }>`
    select name from ${sql.id(schemaName, migrationTableName)} order by name`.execute(db);
  return result.rows.map((row) => row.name);
}

/** Names of user triggers that fire on INSERT, per table; a restore disables them while it loads rows. */
export async function readInsertTriggers(
  db: DatabaseExecutor,
  tables: string[],
): Promise<Map<string, string[]>> {
  // tgtype bit 2 (value 4) is INSERT; internal triggers enforce foreign keys and must stay on.
  const result = await sql<{ table_name: string; trigger_name: string }>`
    select c.relname as table_name, t.tgname as trigger_name
    from pg_trigger t
    join pg_class c on c.oid = t.tgrelid
    join pg_namespace n on n.oid = c.relnamespace
    where not t.tgisinternal and (t.tgtype & 4) <> 0 and t.tgenabled <> 'D'
      and n.nspname = ${schemaName} and c.relname = any(${tables}::text[])
    order by c.relname, t.tgname`.execute(db);
  const triggers = new Map<string, string[]>();
  for (const [table, rows] of groupByTable(result.rows)) {
    triggers.set(
      table,
      rows.map((row) => row.trigger_name),
    );
  }
  return triggers;
}

export function qualifiedTable(name: string) {
  return sql.id(schemaName, name);
}
