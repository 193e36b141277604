import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import ts from 'typescript';
import { migrationLockTableName, migrationTableName } from '../../src/db/migrator.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';

/*
 * src/db/schema.ts is written by hand (issue 9 item 2); this suite is what keeps it true. It reads the
 * `Database` interface with the TypeScript compiler's type checker and the migrated catalog of the
 * engine under test, and requires both directions: every table and column of the catalog is typed,
 * and every typed table and column exists, with
 * - the TypeScript type the driver reads for the column's SQL type (the rules atop schema.ts),
 * - `| null` exactly when the column is nullable,
 * - optional on insert (Generated, *Timestamp) exactly when a NOT NULL column has a default,
 * - a union of literals exactly when the catalog enumerates the values: a CHECK (column in (…)), or a
 *   foreign key to such a column (users.role → roles.name).
 *
 * Compared: the ordinary and partitioned tables of `public` that are not partitions. A partition
 * (audit_logs_2026_01, audit_logs_default, …) repeats its parent's columns and the application only
 * addresses the parent. Not compared: Kysely's Migrator bookkeeping (schema_migrations,
 * schema_migrations_lock), which the Migrator owns and nothing queries through `Database`.
 *
 * So that it can fail: the SQL-to-TypeScript map is checked against what this engine's driver really
 * returns, and a copy of schema.ts with deliberate mistakes (one of each kind) must be reported, each
 * mistake exactly once.
 */

const schemaPath = resolve(import.meta.dirname, '../../src/db/schema.ts');
const internalTables = new Set([migrationTableName, migrationLockTableName]);

/** What each SQL type reads as, through the drivers' parsers (src/db/database.ts). */
const readTypes: Record<string, Kind> = {
  uuid: 'string',
  varchar: 'string',
  text: 'string',
  bpchar: 'string',
  inet: 'string',
  int2: 'number',
  int4: 'number',
  // Parsed with a safe-integer assertion (database.ts).
  int8: 'number',
  // The exact decimal text.
  numeric: 'string',
  bool: 'boolean',
  timestamptz: 'Date',
  date: 'Date',
  jsonb: 'json',
  _text: 'string[]',
  _varchar: 'string[]',
  _uuid: 'string[]',
};

type Kind = 'string' | 'number' | 'boolean' | 'Date' | 'json' | 'string[]';

/** A value of each SQL type of the map, to check the map against what the engine's driver returns. */
const samples: Record<string, string> = {
  uuid: "'00000000-0000-7000-8000-000000000001'::uuid",
  varchar: "'a'::varchar",
  text: "'a'::text",
  bpchar: "'a'::char(1)",
  inet: "'127.0.0.1'::inet",
  int2: '1::int2',
  int4: '1::int4',
  int8: '9007199254740991::int8',
  numeric: '1.50::numeric',
  bool: 'true',
  timestamptz: 'now()',
  date: "'2026-01-02'::date",
  jsonb: `'{"a": [1]}'::jsonb`,
  _text: "array['a', 'b']::text[]",
  _varchar: "array['a']::varchar[]",
  _uuid: "array['00000000-0000-7000-8000-000000000001']::uuid[]",
};

function kindOfValue(value: unknown): string {
  if (value instanceof Date) return 'Date';
  if (Array.isArray(value)) return value.every((item) => typeof item === 'string') ? 'string[]' : 'array';
  if (typeof value === 'object' && value !== null) return 'json';
  return typeof value;
}
type Literal = string | number;

interface CatalogColumn {
  table: string;
  column: string;
  sqlType: string;
  notNull: boolean;
  hasDefault: boolean;
  /** The values a CHECK (column in (…)) or a foreign key to such a column allows; undefined: any. */
  literals: Literal[] | undefined;
}

interface TypedColumn {
  /** Each member of the select type, other than null: a Kind, or the checker's text for anything else. */
  kinds: string[];
  nullable: boolean;
  /** The select type includes undefined (an optional property): never right for a column. */
  undefinedOnSelect: boolean;
  optionalOnInsert: boolean;
  /** The select type is a union of literals only; undefined when any member is not a literal. */
  literals: Literal[] | undefined;
}

type TypedSchema = Map<string, Map<string, TypedColumn>>;

// ------------------------------------------------------------------------------------------------
// The catalog
// ------------------------------------------------------------------------------------------------

interface AttributeRow {
  table_name: string;
  column_name: string;
  type_name: string;
  not_null: boolean;
  has_default: boolean;
}

interface CheckRow {
  table_name: string;
  column_name: string;
  definition: string;
}

interface ForeignKeyRow {
  table_name: string;
  column_name: string;
  referenced_table: string;
  referenced_column: string;
}

/** `CHECK (((status)::text = ANY ((ARRAY['a'::character varying, …])::text[])))` → ['a', …]. */
function enumeratedLiterals(definition: string): Literal[] | undefined {
  const match = /^CHECK \(+"?\w+"?\)?(?:::\w+)? = ANY \(\(?ARRAY\[([^\]]*)\]\)?(?:::[\w ]+\[\])?\)\)+$/.exec(
    definition,
  );
  if (!match?.[1]) return undefined;
  const items = match[1].split(', ');
  const literals: Literal[] = [];
  for (const item of items) {
    const text = /^'((?:[^']|'')*)'(?:::[\w ]+)?$/.exec(item);
    if (text?.[1] !== undefined) literals.push(text[1].replaceAll("''", "'"));
    else if (/^-?\d+$/.test(item)) literals.push(Number(item));
    else return undefined;
  }
  return literals;
}

async function readCatalog(handle: TestDatabase): Promise<CatalogColumn[]> {
  const tables = sql`
    select c.oid, c.relname from pg_class c
     where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and not c.relispartition`;
  const attributes = await sql<AttributeRow>`
    with tables as (${tables})
    select t.relname::text as table_name, a.attname::text as column_name, ty.typname::text as type_name,
           a.attnotnull as not_null,
           (a.atthasdef or a.attidentity <> '' or a.attgenerated <> '') as has_default
      from tables t
      join pg_attribute a on a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped
      join pg_type ty on ty.oid = a.atttypid
     order by t.relname, a.attnum`.execute(handle.db);
  const checks = await sql<CheckRow>`
    with tables as (${tables})
    select t.relname::text as table_name, a.attname::text as column_name,
           pg_get_constraintdef(k.oid) as definition
      from tables t
      join pg_constraint k on k.conrelid = t.oid and k.contype = 'c' and cardinality(k.conkey) = 1
      join pg_attribute a on a.attrelid = t.oid and a.attnum = k.conkey[1]`.execute(handle.db);
  const foreignKeys = await sql<ForeignKeyRow>`
    with tables as (${tables})
    select t.relname::text as table_name, a.attname::text as column_name,
           r.relname::text as referenced_table, ra.attname::text as referenced_column
      from tables t
      join pg_constraint k on k.conrelid = t.oid and k.contype = 'f'
      cross join lateral unnest(k.conkey, k.confkey) as pair (attnum, referenced_attnum)
      join pg_attribute a on a.attrelid = t.oid and a.attnum = pair.attnum
      join pg_class r on r.oid = k.confrelid
      join pg_attribute ra on ra.attrelid = k.confrelid and ra.attnum = pair.referenced_attnum`.execute(
    handle.db,
  );

  const key = (table: string, column: string) => `${table}.${column}`;
  const enumerations = new Map<string, Literal[]>();
  for (const check of checks.rows) {
    const literals = enumeratedLiterals(check.definition);
    if (literals) enumerations.set(key(check.table_name, check.column_name), literals);
  }
  for (const foreignKey of foreignKeys.rows) {
    const referenced = enumerations.get(key(foreignKey.referenced_table, foreignKey.referenced_column));
    const own = key(foreignKey.table_name, foreignKey.column_name);
    if (referenced && !enumerations.has(own)) enumerations.set(own, referenced);
  }
  return attributes.rows
    .filter((row) => !internalTables.has(row.table_name))
    .map((row) => ({
      table: row.table_name,
      column: row.column_name,
      sqlType: row.type_name,
      notNull: row.not_null,
      hasDefault: row.has_default,
      literals: enumerations.get(key(row.table_name, row.column_name)),
    }));
}

// ------------------------------------------------------------------------------------------------
// The Database interface, through the type checker
// ------------------------------------------------------------------------------------------------

const compilerOptions: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2023,
  lib: ['lib.es2023.d.ts'],
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  skipLibCheck: true,
  noEmit: true,
  types: [],
};

/**
 * Reads the `Database` interface of each file. `virtualFiles` are source texts served as if they
 * were on disk (the self-check's deliberately wrong schema), so their imports resolve as schema.ts's do.
 */
function readTypedSchemas(paths: string[], virtualFiles = new Map<string, string>()): TypedSchema[] {
  const host = ts.createCompilerHost(compilerOptions);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (name) => virtualFiles.has(name) || fileExists.call(host, name);
  host.readFile = (name) => virtualFiles.get(name) ?? readFile.call(host, name);
  host.getSourceFile = (name, language, ...rest) => {
    const text = virtualFiles.get(name);
    if (text !== undefined) return ts.createSourceFile(name, text, language);
    return getSourceFile.call(host, name, language, ...rest);
  };
  const program = ts.createProgram({ rootNames: paths, options: compilerOptions, host });
  const checker = program.getTypeChecker();
  return paths.map((path) => {
    const source = program.getSourceFile(path);
    assert.ok(source, `the compiler did not load ${path}`);
    const module = checker.getSymbolAtLocation(source);
    assert.ok(module, `${path} is not a module`);
    const database = checker.getExportsOfModule(module).find((symbol) => symbol.name === 'Database');
    assert.ok(database, `${path} exports no Database interface`);
    return readDatabase(checker, checker.getDeclaredTypeOfSymbol(database));
  });
}

function readDatabase(checker: ts.TypeChecker, database: ts.Type): TypedSchema {
  const schema: TypedSchema = new Map();
  for (const table of checker.getPropertiesOfType(database)) {
    const columns = new Map<string, TypedColumn>();
    for (const column of checker.getPropertiesOfType(checker.getTypeOfSymbol(table))) {
      columns.set(column.name, readColumn(checker, checker.getTypeOfSymbol(column)));
    }
    schema.set(table.name, columns);
  }
  return schema;
}

/** Kysely's ColumnType<Select, Insert, Update> is an object of three phantom properties. */
function phantom(checker: ts.TypeChecker, type: ts.Type, name: '__select__' | '__insert__'): ts.Type {
  const property = type.isUnion() ? undefined : type.getProperty(name);
  return property ? checker.getTypeOfSymbol(property) : type;
}

function membersOf(type: ts.Type): readonly ts.Type[] {
  return type.isUnion() ? type.types : [type];
}

function kindOf(checker: ts.TypeChecker, type: ts.Type): string {
  if (type.flags & (ts.TypeFlags.String | ts.TypeFlags.StringLiteral)) return 'string';
  if (type.flags & (ts.TypeFlags.Number | ts.TypeFlags.NumberLiteral)) return 'number';
  if (type.flags & (ts.TypeFlags.Boolean | ts.TypeFlags.BooleanLiteral)) return 'boolean';
  const text = checker.typeToString(type);
  if (['JsonObject', 'Record<string, unknown>', '{ [x: string]: unknown; }'].includes(text)) return 'json';
  return text;
}

function readColumn(checker: ts.TypeChecker, type: ts.Type): TypedColumn {
  const select = membersOf(phantom(checker, type, '__select__'));
  const insert = membersOf(phantom(checker, type, '__insert__'));
  const values = select.filter((member) => !(member.flags & (ts.TypeFlags.Null | ts.TypeFlags.Undefined)));
  const literals = values.every((member) => member.isLiteral())
    ? values.map((member) => (member as ts.LiteralType).value as Literal)
    : undefined;
  return {
    kinds: [...new Set(values.map((member) => kindOf(checker, member)))].sort(),
    nullable: select.some((member) => member.flags & ts.TypeFlags.Null),
    undefinedOnSelect: select.some((member) => member.flags & ts.TypeFlags.Undefined),
    optionalOnInsert: insert.some((member) => member.flags & ts.TypeFlags.Undefined),
    literals: literals && literals.length > 0 ? literals : undefined,
  };
}

// ------------------------------------------------------------------------------------------------
// The comparison
// ------------------------------------------------------------------------------------------------

function sameLiterals(left: Literal[], right: Literal[]): boolean {
  const sorted = (values: Literal[]) => [...values].map(String).sort().join('|');
  return sorted(left) === sorted(right);
}

function columnDifferences(catalog: CatalogColumn, typed: TypedColumn): string[] {
  const name = `${catalog.table}.${catalog.column}`;
  const found: string[] = [];
  const expected = readTypes[catalog.sqlType];
  if (expected === undefined) {
    found.push(`${name}: the SQL type ${catalog.sqlType} has no TypeScript type in this test's map`);
  } else if (typed.kinds.join(' | ') !== expected) {
    found.push(
      `${name}: ${catalog.sqlType} reads as ${expected}, the interface says ${typed.kinds.join(' | ')}`,
    );
  }
  if (typed.nullable === catalog.notNull) {
    found.push(
      `${name}: ${catalog.notNull ? 'NOT NULL, but the interface allows null' : 'nullable, but the interface has no null'}`,
    );
  }
  if (typed.undefinedOnSelect)
    found.push(`${name}: the select type includes undefined (an optional property)`);
  // A nullable column is optional on insert whatever its type (Kysely's Insertable); a NOT NULL one
  // must be optional exactly when the database fills it.
  if (catalog.notNull && typed.optionalOnInsert !== catalog.hasDefault) {
    found.push(
      `${name}: ${catalog.hasDefault ? 'has a default, but the interface requires it on insert' : 'has no default, but the interface makes it optional on insert'}`,
    );
  }
  if (catalog.literals && !typed.literals) {
    found.push(
      `${name}: the catalog allows only ${catalog.literals.join(', ')}, the interface takes any value`,
    );
  } else if (!catalog.literals && typed.literals) {
    found.push(
      `${name}: the interface allows only ${typed.literals.join(', ')}, the catalog enumerates nothing`,
    );
  } else if (catalog.literals && typed.literals && !sameLiterals(catalog.literals, typed.literals)) {
    found.push(
      `${name}: the catalog allows ${[...catalog.literals].sort().join(', ')}, the interface ${[...typed.literals].sort().join(', ')}`,
    );
  }
  return found;
}

/** Every way the interface and the catalog disagree, one line each; empty when they agree. */
function schemaDifferences(catalog: CatalogColumn[], typed: TypedSchema): string[] {
  const found: string[] = [];
  const catalogTables = new Map<string, Map<string, CatalogColumn>>();
  for (const column of catalog) {
    const columns = catalogTables.get(column.table) ?? new Map<string, CatalogColumn>();
    columns.set(column.column, column);
    catalogTables.set(column.table, columns);
  }
  for (const [table, columns] of catalogTables) {
    const typedColumns = typed.get(table);
    if (!typedColumns) {
      found.push(`${table}: in the catalog, missing from Database`);
      continue;
    }
    for (const [name, column] of columns) {
      const typedColumn = typedColumns.get(name);
      if (typedColumn) found.push(...columnDifferences(column, typedColumn));
      else found.push(`${table}.${name}: in the catalog, missing from the interface`);
    }
    for (const name of typedColumns.keys()) {
      if (!columns.has(name)) found.push(`${table}.${name}: in the interface, not in the catalog`);
    }
  }
  for (const table of typed.keys()) {
    if (!catalogTables.has(table)) found.push(`${table}: in Database, not in the catalog`);
  }
  return found;
}

// ------------------------------------------------------------------------------------------------

let handle: TestDatabase;
let catalog: CatalogColumn[];
let schema: TypedSchema;
let wrongSchema: TypedSchema;

/** Each edit makes one deliberate mistake in a copy of schema.ts; the test must report every one. */
const deliberateMistakes: { replace: string; with: string; reported: string }[] = [
  {
    replace: '  email: string | null;\n  phone: string | null;',
    with: '  email: string;\n  phone: string | null;',
    reported: 'users.email: nullable, but the interface has no null',
  },
  {
    replace: '  balance: Generated<number>;',
    with: '  balance: Generated<string>;',
    reported: 'wallets.balance: int8 reads as number, the interface says string',
  },
  {
    replace: '  entry_count: Generated<number>;\n',
    with: '',
    reported: 'wallets.entry_count: in the catalog, missing from the interface',
  },
  {
    replace: '  slug: string;\n  name: string;\n  status: Generated<TenantStatus>;',
    with: '  slug: string;\n  nickname: string;\n  name: string;\n  status: Generated<TenantStatus>;',
    reported: 'tenants.nickname: in the interface, not in the catalog',
  },
  {
    replace: "export type TenantStatus = 'active' | 'suspended';",
    with: "export type TenantStatus = 'active' | 'suspended' | 'archived';",
    reported:
      'tenants.status: the catalog allows active, suspended, the interface active, archived, suspended',
  },
  {
    replace: '  request_hash: string;',
    with: '  request_hash: Generated<string>;',
    reported: 'idempotency_keys.request_hash: has no default, but the interface makes it optional on insert',
  },
  {
    replace: '  token_hash: string;\n  expires_at: RequiredTimestamp;\n  rotated_at',
    with: '  token_hash: string;\n  expires_at: Timestamp;\n  rotated_at',
    reported: 'refresh_tokens.expires_at: has no default, but the interface makes it optional on insert',
  },
  {
    replace: '  maximum_amount: number;\n  is_active: Generated<boolean>;',
    with: '  maximum_amount: number;\n  is_active: boolean;',
    reported: 'assets.is_active: has a default, but the interface requires it on insert',
  },
  {
    replace: '  kind: AssetKind;',
    with: '  kind: string;',
    reported: 'assets.kind: the catalog allows only fiat, crypto, token, the interface takes any value',
  },
  {
    replace: '  last_seen_at: Timestamp;\n  last_ip_address: string | null;',
    with: '  last_seen_at: Timestamp;\n  last_ip_address: string | null | undefined;',
    reported: 'trusted_devices.last_ip_address: the select type includes undefined (an optional property)',
  },
  {
    replace: '  daily_totals: DailyTotalsTable;\n',
    with: '',
    reported: 'daily_totals: in the catalog, missing from Database',
  },
];

function withMistakes(text: string): string {
  let wrong = text;
  for (const mistake of deliberateMistakes) {
    const occurrences = wrong.split(mistake.replace).length - 1;
    assert.equal(occurrences, 1, `the self-check's edit must match schema.ts once: ${mistake.replace}`);
    wrong = wrong.replace(mistake.replace, mistake.with);
  }
  return wrong;
}

before(async () => {
  handle = await openTestDatabase();
  catalog = await readCatalog(handle);
  const wrongPath = resolve(import.meta.dirname, '../../src/db/schema.deliberately-wrong.ts');
  const wrongText = withMistakes(readFileSync(schemaPath, 'utf8'));
  [schema, wrongSchema] = readTypedSchemas([schemaPath, wrongPath], new Map([[wrongPath, wrongText]])) as [
    TypedSchema,
    TypedSchema,
  ];
});

after(async () => {
  await handle?.close();
});

describe('src/db/schema.ts against the migrated catalog', () => {
  test('the catalog was read: the tables of every migration, with their columns', () => {
    const tables = new Set(catalog.map((column) => column.table));
    for (const table of ['tenants', 'users', 'wallets', 'transactions', 'audit_logs', 'daily_totals']) {
      assert.ok(tables.has(table), table);
    }
    assert.ok(catalog.length > 400, `expected the columns of every table, found ${catalog.length}`);
    assert.ok(!tables.has('audit_logs_default'), 'partitions are left out');
    assert.ok(!tables.has(migrationTableName), "the Migrator's tables are left out");
    const status = catalog.find((column) => column.table === 'users' && column.column === 'status');
    assert.deepEqual(status?.literals, [0, 1, 2], 'a CHECK (status in (0, 1, 2)) is read as its values');
    const role = catalog.find((column) => column.table === 'users' && column.column === 'role');
    assert.ok(role?.literals?.includes('customer'), 'a foreign key to an enumerated column inherits it');
  });

  test("the map of SQL types to TypeScript is what this engine's driver returns", async () => {
    assert.deepEqual(Object.keys(samples).sort(), Object.keys(readTypes).sort());
    const selected = Object.entries(samples).map(([type, value]) => `${value} as "${type}"`);
    const { rows } = await sql
      .raw<Record<string, unknown>>(`select ${selected.join(', ')}`)
      .execute(handle.db);
    const [row] = rows;
    assert.ok(row);
    const observed = Object.fromEntries(Object.keys(samples).map((type) => [type, kindOfValue(row[type])]));
    assert.deepEqual(observed, readTypes);
  });

  test('every table and column agrees in type, nullability, insert default and enumeration', () => {
    const differences = schemaDifferences(catalog, schema);
    assert.deepEqual(differences, [], `schema.ts and the catalog differ:\n${differences.join('\n')}`);
  });

  test('self-check: a copy of schema.ts with deliberate mistakes is reported, each mistake once', () => {
    // Beyond whatever the real schema.ts gets wrong, which the test above reports.
    const known = new Set(schemaDifferences(catalog, schema));
    const differences = schemaDifferences(catalog, wrongSchema).filter((line) => !known.has(line));
    assert.deepEqual(
      [...differences].sort(),
      deliberateMistakes.map((mistake) => mistake.reported).sort(),
      differences.join('\n'),
    );
  });

  test('self-check: the CHECK reader takes enumerations and nothing else', () => {
    assert.deepEqual(
      enumeratedLiterals(
        "CHECK (((status)::text = ANY ((ARRAY['active'::character varying, 'suspended'::character varying])::text[])))",
      ),
      ['active', 'suspended'],
    );
    assert.deepEqual(enumeratedLiterals('CHECK ((kyc_tier = ANY (ARRAY[0, 1, 2])))'), [0, 1, 2]);
    assert.equal(enumeratedLiterals('CHECK ((scale >= 0) AND (scale <= 18))'), undefined);
    assert.equal(enumeratedLiterals("CHECK (((slug)::text ~ '^[a-z0-9]$'::text))"), undefined);
  });
});
