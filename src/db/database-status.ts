import { sql } from 'kysely';
import type { DatabaseHandle, Engine } from './database.ts';
import { readMigrationStatus } from './migrator.ts';

export interface DatabaseStatus {
  engine: Engine;
  serverVersion: string;
  databaseName: string;
  databaseSize: string;
  connections: number;
  applied: { name: string; executedAt: Date }[];
  pending: string[];
  tables: { name: string; rowEstimate: number; totalSize: string }[];
  /** Every partition of the partitioned tables (monthly and default), by parent then name. */
  partitions: { parent: string; name: string; bound: string; rowEstimate: number; totalSize: string }[];
}

/**
 * Refreshes the planner's statistics, which are also `db status`'s row estimates: PostgreSQL's
 * autovacuum would in time, the embedded engine never. Run after seeding and after a retention run.
 */
export async function refreshStatistics(db: DatabaseHandle['db']): Promise<void> {
  await sql`analyze`.execute(db);
}

async function readPartitions(handle: DatabaseHandle): Promise<DatabaseStatus['partitions']> {
  const result = await sql<{
    parent: string;
    name: string;
    bound: string;
    row_estimate: number;
    total_size: string;
  }>`
    select p.relname as parent, c.relname as name, pg_get_expr(c.relpartbound, c.oid) as bound,
           greatest(c.reltuples, 0)::bigint as row_estimate,
           pg_size_pretty(pg_total_relation_size(c.oid)) as total_size
    from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent
    join pg_namespace n on n.oid = p.relnamespace
    where n.nspname = 'public' and p.relkind = 'p'
    order by p.relname, c.relname`.execute(handle.db);
  return result.rows.map((row) => ({
    parent: row.parent,
    name: row.name,
    bound: row.bound,
    rowEstimate: row.row_estimate,
    totalSize: row.total_size,
  }));
}

/** Everything `corebank db status` prints, read from the catalog (estimates, not counts: cheap on big tables). */
export async function readDatabaseStatus(handle: DatabaseHandle): Promise<DatabaseStatus> {
  const migrations = await readMigrationStatus(handle.db);
  const server = await sql<{ version: string; name: string; size: string; connections: number }>`
    select current_setting('server_version') as version, current_database() as name,
           pg_size_pretty(pg_database_size(current_database())) as size,
           (select count(*)::int from pg_stat_activity where datname = current_database()) as connections`.execute(
    handle.db,
  );
  const tables = await sql<{ name: string; row_estimate: number; total_size: string }>`
    select c.relname as name,
           greatest(coalesce((select sum(greatest(p.reltuples, 0)) from pg_inherits i
                              join pg_class p on p.oid = i.inhrelid where i.inhparent = c.oid), 0),
                    greatest(c.reltuples, 0))::bigint as row_estimate,
           pg_size_pretty(coalesce((select sum(pg_total_relation_size(i.inhrelid)) from pg_inherits i
                                    where i.inhparent = c.oid), 0) + pg_total_relation_size(c.oid)) as total_size
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
    order by c.relname`.execute(handle.db);
  const row = server.rows[0];
  return {
    engine: handle.engine,
    serverVersion: row?.version ?? 'unknown',
    databaseName: row?.name ?? 'unknown',
    databaseSize: row?.size ?? 'unknown',
    connections: row?.connections ?? 0,
    applied: migrations.applied,
    pending: migrations.pending,
    tables: tables.rows.map((table) => ({
      name: table.name,
      rowEstimate: table.row_estimate,
      totalSize: table.total_size,
    })),
    partitions: await readPartitions(handle),
  };
}
