import { sql } from 'kysely';
import type { DatabaseHandle } from '../../db/database.ts';
import { migrationTableName } from '../../db/migrator.ts';

/** A Kysely instance or a transaction on it: catalog reads run inside the caller's transaction. */
export type DatabaseExecutor = DatabaseHandle['db'];

/** The application schema: every data table, sequence and trigger a backup covers lives in it. */
const schemaName = 'public';

export function qualifiedTable(name: string) {
  return sql.id(schemaName, name);
}

/** Partitions are reached through their parent, so only top-level tables count (relispartition false). */
export async function selectTopLevelTables(db: DatabaseExecutor) {
  const result = await sql<{ name: string; partitioned: boolean }>`
    select c.relname as name, c.relkind = 'p' as partitioned
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${schemaName}
      and c.relkind in ('r', 'p')
      and not c.relispartition
    order by c.relname`.execute(db);
  return result.rows;
}

export async function selectColumns(db: DatabaseExecutor, tables: string[]) {
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
    where n.nspname = ${schemaName} and c.relname = any(${tables}::text[])
      and a.attnum > 0 and not a.attisdropped
    order by c.relname, a.attnum`.execute(db);
  return result.rows;
}

export async function selectPrimaryKeyColumns(db: DatabaseExecutor, tables: string[]) {
  const result = await sql<{ table_name: string; column_name: string }>`
    select c.relname as table_name, a.attname as column_name
    from pg_constraint con
    join pg_class c on c.oid = con.conrelid
    join pg_namespace n on n.oid = c.relnamespace
    cross join lateral unnest(con.conkey) with ordinality as key(attnum, position)
    join pg_attribute a on a.attrelid = con.conrelid and a.attnum = key.attnum
    where con.contype = 'p' and n.nspname = ${schemaName}
      and c.relname = any(${tables}::text[])
    order by c.relname, key.position`.execute(db);
  return result.rows;
}

/**
 * Constraint definitions for the schema snapshot. NOT NULL constraints are left out: PostgreSQL 18
 * records them in pg_constraint and 15 does not, and the column shape already carries them.
 */
export async function selectConstraints(db: DatabaseExecutor, tables: string[]) {
  const result = await sql<{ table_name: string; name: string; kind: string; definition: string }>`
    select c.relname as table_name, con.conname as name, con.contype::text as kind,
           pg_get_constraintdef(con.oid) as definition
    from pg_constraint con
    join pg_class c on c.oid = con.conrelid
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${schemaName} and con.contype <> 'n'
      and c.relname = any(${tables}::text[])
    order by c.relname, con.conname`.execute(db);
  return result.rows;
}

/** Only constraints between two of `tables` count; partition-level copies are left out. */
export async function selectForeignKeyReferences(db: DatabaseExecutor, tables: string[]) {
  const result = await sql<{ table_name: string; referenced: string }>`
    select child.relname as table_name, parent.relname as referenced
    from pg_constraint con
    join pg_class child on child.oid = con.conrelid
    join pg_class parent on parent.oid = con.confrelid
    join pg_namespace child_namespace on child_namespace.oid = child.relnamespace
    join pg_namespace parent_namespace on parent_namespace.oid = parent.relnamespace
    where con.contype = 'f'
      and child_namespace.nspname = ${schemaName} and parent_namespace.nspname = ${schemaName}
      and child.relname = any(${tables}::text[]) and parent.relname = any(${tables}::text[])`.execute(db);
  return result.rows;
}

/** Sequences of the application schema, except those owned by one of `excludedTables`. */
export async function selectSequenceNames(db: DatabaseExecutor, excludedTables: readonly string[]) {
  const result = await sql<{ name: string }>`
    select s.relname as name
    from pg_class s
    join pg_namespace n on n.oid = s.relnamespace
    where s.relkind = 'S' and n.nspname = ${schemaName}
      and not exists (
        select 1 from pg_depend d join pg_class owner on owner.oid = d.refobjid
        where d.objid = s.oid and d.deptype in ('a', 'i') and owner.relname = any(${excludedTables}::text[])
      )
    order by s.relname`.execute(db);
  return result.rows.map((row) => row.name);
}

/** Names of the applied migrations in the order they apply; none when the migrator never ran. */
export async function selectAppliedMigrations(db: DatabaseExecutor): Promise<string[]> {
  const qualified = `${schemaName}.${migrationTableName}`;
  const present = await sql<{ present: boolean }>`
    select to_regclass(${qualified}) is not null as present`.execute(db);
  if (!present.rows[0]?.present) return [];
  const result = await sql<{ name: string }>`
    select name from ${sql.id(schemaName, migrationTableName)} order by name`.execute(db);
  return result.rows.map((row) => row.name);
}

/** User triggers that fire on INSERT on `tables`; a restore disables them while it loads rows. */
export async function selectInsertTriggers(db: DatabaseExecutor, tables: string[]) {
  // tgtype bit 2 (value 4) is INSERT; internal triggers enforce foreign keys and must stay on.
  const result = await sql<{ table_name: string; trigger_name: string }>`
    select c.relname as table_name, t.tgname as trigger_name
    from pg_trigger t
    join pg_class c on c.oid = t.tgrelid
    join pg_namespace n on n.oid = c.relnamespace
    where not t.tgisinternal and (t.tgtype & 4) <> 0 and t.tgenabled <> 'D'
      and n.nspname = ${schemaName} and c.relname = any(${tables}::text[])
    order by c.relname, t.tgname`.execute(db);
  return result.rows;
}

/** A sequence's state as `setval` takes it back; the value as text, since it may pass 2^53. */
export async function selectSequenceState(db: DatabaseExecutor, name: string) {
  const result = await sql<{ last_value: string; is_called: boolean }>`
      select last_value::text as last_value, is_called from ${sql.id(schemaName, name)}`.execute(db);
  return result.rows[0];
}

export async function writeSequenceState(
  db: DatabaseExecutor,
  state: { name: string; lastValue: string; isCalled: boolean },
): Promise<void> {
  await sql`select setval(format('%I.%I', ${schemaName}::text, ${state.name}::text)::regclass,
                          ${state.lastValue}::bigint, ${state.isCalled}::boolean)`.execute(db);
}
