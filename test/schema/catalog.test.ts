import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { seedColumns } from './seed-coverage.ts';

/*
 * The schema's structural promises, read from the system catalog of a freshly migrated database:
 * every seed column has a home, tenant_id leads every key, RLS is forced, the application role
 * cannot rewrite history, the log partitions exist, and the column types are the ones the money and
 * time rules require. docs/schema.md states each of these in prose.
 */

/** Tables without tenant_id; a tenant table may reference these with a plain foreign key. */
const globalTables = ['tenants', 'assets', 'roles', 'data_retention_policies'];
/**
 * Tables whose tenant_id is nullable on purpose: a row without a tenant is a shared feed every tenant
 * reads (migration 0012). Their own RLS test is below; the tenant-table rules do not apply.
 */
const sharedFeedTables = ['threat_intelligence'];
const appendOnlyTables = ['audit_logs', 'login_audits', 'transactions', 'session_logs', 'api_access_log'];
const partitionedTables = ['audit_logs', 'login_audits', 'security_events', 'api_access_log'];
const moneyColumns = [
  'wallets.balance',
  'wallets.locked',
  'transactions.amount',
  'transactions.balance_before',
  'transactions.balance_after',
  'operations.amount',
  'balance_holds.amount',
  'topup_approvals.amount',
];
const ipColumnNames = ['ip_address', 'last_ip_address', 'last_login_ip'];

interface ColumnRow {
  table_name: string;
  column_name: string;
  data_type: string;
  udt_name: string;
}

let handle: TestDatabase;
let columns: ColumnRow[];
let tenantTables: string[];

before(async () => {
  handle = await openTestDatabase();
  // Partitions repeat their parent's columns; the parent is what the application addresses.
  const result = await sql<ColumnRow>`
    select c.table_name::text as table_name, c.column_name::text as column_name,
           c.data_type::text as data_type, c.udt_name::text as udt_name
    from information_schema.columns c
    join pg_class k on k.relname = c.table_name and k.relnamespace = 'public'::regnamespace
    where c.table_schema = 'public' and k.relkind in ('r', 'p') and not k.relispartition
    order by c.table_name, c.ordinal_position`.execute(handle.db);
  columns = result.rows;
  tenantTables = [
    ...new Set(
      columns
        .filter(
          (column) => column.column_name === 'tenant_id' && !sharedFeedTables.includes(column.table_name),
        )
        .map((c) => c.table_name),
    ),
  ];
  assert.ok(tenantTables.length >= 28, `expected the tenant tables, found ${tenantTables.length}`);
});

after(async () => {
  await handle?.close();
});

function columnOf(table: string, column: string): ColumnRow | undefined {
  return columns.find((row) => row.table_name === table && row.column_name === column);
}

describe('seed coverage', () => {
  test('every seed column that is stored lives in an existing table and column', () => {
    const missing = seedColumns
      .flatMap((entry) => ('table' in entry.lives ? [{ entry, lives: entry.lives }] : []))
      .filter(({ lives }) => !columnOf(lives.table, lives.column))
      .map(
        ({ entry, lives }) => `${entry.seed} ${entry.table}.${entry.column} → ${lives.table}.${lives.column}`,
      );
    assert.deepEqual(missing, []);
  });

  test('every seed column is listed once and every omission gives its reason', () => {
    const keys = seedColumns.map((entry) => `${entry.seed}/${entry.table}/${entry.column}`);
    assert.equal(new Set(keys).size, keys.length, 'a seed column is listed twice');
    for (const entry of seedColumns) {
      if ('notStored' in entry.lives) {
        assert.ok(
          entry.lives.notStored.length >= 20,
          `${entry.seed} ${entry.table}.${entry.column} needs a reason`,
        );
      }
    }
    // 445 columns in 39 seed tables; a smaller number means a seed column was dropped from the map.
    assert.equal(seedColumns.length, 445);
    assert.equal(new Set(seedColumns.map((entry) => `${entry.seed}/${entry.table}`)).size, 39);
    const seeds = new Set(seedColumns.map((entry) => entry.seed));
    assert.deepEqual([...seeds].sort(), ['000', '001', '002', '003', '004']);
  });
});

describe('tenant-leading keys', () => {
  test('tenant_id leads the primary key of every tenant table', async () => {
    const result = await sql<{ table_name: string; first_column: string | null }>`
      select k.relname::text as table_name,
             (select a.attname::text from pg_attribute a
               where a.attrelid = k.oid and a.attnum = p.conkey[1]) as first_column
      from pg_class k
      left join pg_constraint p on p.conrelid = k.oid and p.contype = 'p'
      where k.relname = any(${tenantTables}) and k.relnamespace = 'public'::regnamespace`.execute(handle.db);
    assert.equal(result.rows.length, tenantTables.length);
    const wrong = result.rows.filter((row) => row.first_column !== 'tenant_id').map((row) => row.table_name);
    assert.deepEqual(wrong, []);
  });

  test('tenant_id leads every unique constraint and unique index of a tenant table', async () => {
    const result = await sql<{ index_name: string; first_column: string }>`
      select i.indexrelid::regclass::text as index_name, a.attname::text as first_column
      from pg_index i
      join pg_class k on k.oid = i.indrelid
      join pg_attribute a on a.attrelid = k.oid and a.attnum = i.indkey[0]
      where i.indisunique and k.relname = any(${tenantTables})
        and k.relnamespace = 'public'::regnamespace and not k.relispartition`.execute(handle.db);
    assert.ok(result.rows.length > tenantTables.length, 'expected primary keys and unique keys');
    const wrong = result.rows.filter((row) => row.first_column !== 'tenant_id').map((row) => row.index_name);
    assert.deepEqual(wrong, []);
  });

  test('every foreign key between tenant tables pairs tenant_id with tenant_id', async () => {
    const result = await sql<{
      constraint_name: string;
      table_name: string;
      referenced_table: string;
      columns: string[];
      referenced_columns: string[];
    }>`
      select f.conname::text as constraint_name, k.relname::text as table_name,
             r.relname::text as referenced_table,
             array(select a.attname::text from unnest(f.conkey) with ordinality as c(attnum, position)
                   join pg_attribute a on a.attrelid = f.conrelid and a.attnum = c.attnum
                   order by c.position) as columns,
             array(select a.attname::text from unnest(f.confkey) with ordinality as c(attnum, position)
                   join pg_attribute a on a.attrelid = f.confrelid and a.attnum = c.attnum
                   order by c.position) as referenced_columns
      from pg_constraint f
      join pg_class k on k.oid = f.conrelid
      join pg_class r on r.oid = f.confrelid
      where f.contype = 'f' and k.relname = any(${tenantTables})
        and k.relnamespace = 'public'::regnamespace and not k.relispartition`.execute(handle.db);
    const tenantForeignKeys = result.rows.filter((row) => !globalTables.includes(row.referenced_table));
    assert.ok(tenantForeignKeys.length >= 20, 'expected the foreign keys between tenant tables');
    for (const foreignKey of tenantForeignKeys) {
      const position = foreignKey.columns.indexOf('tenant_id');
      assert.ok(position >= 0, `${foreignKey.table_name}.${foreignKey.constraint_name} lacks tenant_id`);
      assert.equal(
        foreignKey.referenced_columns[position],
        'tenant_id',
        `${foreignKey.table_name}.${foreignKey.constraint_name} must pair tenant_id with ${foreignKey.referenced_table}.tenant_id`,
      );
    }
  });
});

describe('row-level security', () => {
  test('every tenant table enables and forces RLS and has the tenant_isolation policy', async () => {
    const result = await sql<{ table_name: string; enabled: boolean; forced: boolean; has_policy: boolean }>`
      select k.relname::text as table_name, k.relrowsecurity as enabled, k.relforcerowsecurity as forced,
             exists (select 1 from pg_policy p where p.polrelid = k.oid and p.polname = 'tenant_isolation')
               as has_policy
      from pg_class k
      where k.relname = any(${tenantTables}) and k.relnamespace = 'public'::regnamespace
        and not k.relispartition`.execute(handle.db);
    assert.equal(result.rows.length, tenantTables.length);
    const unprotected = result.rows
      .filter((row) => !(row.enabled && row.forced && row.has_policy))
      .map((row) => row.table_name);
    assert.deepEqual(unprotected, []);
  });
});

describe('shared-feed tables', () => {
  test('threat_intelligence forces RLS: tenants read their rows and the shared ones, and write only their own', async () => {
    const result = await sql<{ enabled: boolean; forced: boolean; policies: string[] }>`
      select k.relrowsecurity as enabled, k.relforcerowsecurity as forced,
             array(select p.polname::text from pg_policy p where p.polrelid = k.oid order by 1) as policies
      from pg_class k
      where k.relname = 'threat_intelligence' and k.relnamespace = 'public'::regnamespace`.execute(handle.db);
    assert.deepEqual(result.rows, [
      { enabled: true, forced: true, policies: ['tenant_insert', 'tenant_read', 'tenant_update'] },
    ]);
  });
});

describe('privileges', () => {
  test('the application role may read and insert the append-only tables but never change them', async () => {
    for (const table of appendOnlyTables) {
      const result = await sql<Record<string, boolean>>`
        select has_table_privilege('corebank_app', ${table}, 'SELECT') as can_select,
               has_table_privilege('corebank_app', ${table}, 'INSERT') as can_insert,
               has_table_privilege('corebank_app', ${table}, 'UPDATE') as can_update,
               has_table_privilege('corebank_app', ${table}, 'DELETE') as can_delete,
               has_table_privilege('corebank_app', ${table}, 'TRUNCATE') as can_truncate`.execute(handle.db);
      assert.deepEqual(
        result.rows[0],
        { can_select: true, can_insert: true, can_update: false, can_delete: false, can_truncate: false },
        table,
      );
    }
  });

  test('the application role may update only the personal columns of the logs (erasure, migration 0021), never the ledger', async () => {
    const granted = await sql<{ table_name: string; column_name: string }>`
      select table_name, column_name from information_schema.column_privileges
      where grantee = 'corebank_app' and privilege_type = 'UPDATE'
        and table_name = any(${[...appendOnlyTables]}::text[])
      order by 1, 2`.execute(handle.db);
    assert.deepEqual(
      granted.rows.map((row) => `${row.table_name}.${row.column_name}`),
      [
        'api_access_log.ip_address',
        'api_access_log.request_headers',
        'api_access_log.user_agent',
        'audit_logs.details',
        'audit_logs.device_fingerprint',
        'audit_logs.ip_address',
        'audit_logs.location',
        'audit_logs.new_values',
        'audit_logs.old_values',
        'audit_logs.user_agent',
        'login_audits.device_info',
        'login_audits.ip_address',
        'login_audits.user_agent',
        'session_logs.details',
        'session_logs.device_info',
        'session_logs.ip_address',
        'session_logs.user_agent',
      ],
    );
  });

  test('the sealer may update only the seal columns of audit_logs', async () => {
    const result = await sql<Record<string, boolean>>`
      select has_table_privilege('corebank_sealer', 'audit_logs', 'UPDATE') as whole_table,
             has_column_privilege('corebank_sealer', 'audit_logs', 'row_hash', 'UPDATE') as row_hash,
             has_column_privilege('corebank_sealer', 'audit_logs', 'action', 'UPDATE') as action,
             has_table_privilege('corebank_sealer', 'audit_logs', 'DELETE') as can_delete,
             has_table_privilege('corebank_sealer', 'transactions', 'SELECT') as ledger`.execute(handle.db);
    assert.deepEqual(result.rows[0], {
      whole_table: false,
      row_hash: true,
      action: false,
      can_delete: false,
      ledger: false,
    });
  });
});

describe('monthly partitions', () => {
  test('each partitioned log has a default partition and partitions for this month and the next', async () => {
    for (const table of partitionedTables) {
      const result = await sql<{
        partition_name: string;
        bound: string;
        covers_now: boolean;
        covers_next: boolean;
      }>`
        with bounds as (
          select c.relname::text as partition_name, pg_get_expr(c.relpartbound, c.oid) as bound
          from pg_inherits i join pg_class c on c.oid = i.inhrelid
          where i.inhparent = ${table}::regclass
        ), ranges as (
          select partition_name, bound,
                 substring(bound from 'FROM \\(''([^'']+)''\\)')::timestamptz as lower_bound,
                 substring(bound from 'TO \\(''([^'']+)''\\)')::timestamptz as upper_bound
          from bounds where bound <> 'DEFAULT'
        )
        select partition_name, bound, false as covers_now, false as covers_next
          from bounds where bound = 'DEFAULT'
        union all
        select partition_name, bound,
               lower_bound <= now() and now() < upper_bound as covers_now,
               lower_bound <= next_month and next_month < upper_bound as covers_next
        from ranges,
             lateral (select date_trunc('month', now() at time zone 'UTC') at time zone 'UTC'
                             + interval '1 month' as next_month) as n`.execute(handle.db);
      const partitions = result.rows;
      assert.ok(
        partitions.some((row) => row.bound === 'DEFAULT' && row.partition_name === `${table}_default`),
        `${table} has no default partition`,
      );
      assert.equal(partitions.filter((row) => row.covers_now).length, 1, `${table}: this month`);
      assert.equal(partitions.filter((row) => row.covers_next).length, 1, `${table}: next month`);
    }
  });

  test('the partitioned parents are partitioned by range on created_at', async () => {
    const result = await sql<{ table_name: string; key: string }>`
      select c.relname::text as table_name, pg_get_partkeydef(c.oid) as key
      from pg_class c where c.relkind = 'p' and c.relnamespace = 'public'::regnamespace
      order by 1`.execute(handle.db);
    assert.deepEqual(
      result.rows,
      [...partitionedTables].sort().map((table) => ({ table_name: table, key: 'RANGE (created_at)' })),
    );
  });
});

describe('column types', () => {
  test('the primary key columns of tenant tables are uuid', async () => {
    const result = await sql<{ table_name: string; column_name: string; type_name: string }>`
      select k.relname::text as table_name, a.attname::text as column_name,
             format_type(a.atttypid, a.atttypmod) as type_name
      from pg_constraint p
      join pg_class k on k.oid = p.conrelid
      join pg_attribute a on a.attrelid = k.oid and a.attnum = any(p.conkey)
      where p.contype = 'p' and k.relname = any(${tenantTables})
        and k.relnamespace = 'public'::regnamespace and not k.relispartition`.execute(handle.db);
    // The partition key must be in a partitioned table's key. Three tables keep a natural key on
    // purpose: configs are looked up by name, an idempotency key is identified by its caller and the
    // client's key, so a racing duplicate collides on the primary key itself, and a security counter
    // by its scope and subject, the conflict target of the upsert that decides a limit.
    const naturalKeys = [
      'configs.key',
      'idempotency_keys.idempotency_key',
      'security_counters.scope',
      'security_counters.subject_hash',
    ];
    const exempt = (row: { table_name: string; column_name: string }) =>
      (partitionedTables.includes(row.table_name) && row.column_name === 'created_at') ||
      naturalKeys.includes(`${row.table_name}.${row.column_name}`);
    const wrong = result.rows
      .filter((row) => !exempt(row) && row.type_name !== 'uuid')
      .map((row) => `${row.table_name}.${row.column_name} is ${row.type_name}`);
    assert.deepEqual(wrong, []);
    assert.ok(result.rows.some((row) => row.table_name === 'users' && row.column_name === 'id'));
  });

  test('money columns are bigint minor units', () => {
    for (const qualified of moneyColumns) {
      const [table, column] = qualified.split('.') as [string, string];
      assert.equal(columnOf(table, column)?.data_type, 'bigint', qualified);
    }
  });

  test('no column anywhere in the public schema is a timestamp without time zone', async () => {
    const result = await sql<{ table_name: string; column_name: string }>`
      select table_name::text, column_name::text from information_schema.columns
      where table_schema = 'public' and data_type = 'timestamp without time zone'`.execute(handle.db);
    assert.deepEqual(result.rows, []);
    assert.ok(columns.some((row) => row.data_type === 'timestamp with time zone'));
  });

  test('every IP address column is inet', () => {
    const ipColumns = columns.filter((row) => ipColumnNames.includes(row.column_name));
    assert.ok(ipColumns.length >= 11, `expected the IP columns, found ${ipColumns.length}`);
    const wrong = ipColumns
      .filter((row) => row.udt_name !== 'inet')
      .map((row) => `${row.table_name}.${row.column_name}`);
    assert.deepEqual(wrong, []);
  });
});
