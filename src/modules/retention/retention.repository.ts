import { type Kysely, type RawBuilder, sql, type Transaction } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import type { RetentionTable } from './retention-tables.ts';

export type OwnerTransaction = Transaction<Database>;

const policyColumns = [
  'table_name',
  'retention_period_days',
  'archive_after_days',
  'delete_after_days',
  'is_active',
  'last_cleanup_at',
  'archived_through',
  'updated_at',
] as const;

export async function listPolicies(executor: Kysely<Database>) {
  return executor.selectFrom('data_retention_policies').select(policyColumns).orderBy('table_name').execute();
}

export type PolicyRow = Awaited<ReturnType<typeof listPolicies>>[number];

export async function findPolicy(executor: Kysely<Database>, tableName: string) {
  return executor
    .selectFrom('data_retention_policies')
    .select(policyColumns)
    .where('table_name', '=', tableName)
    .executeTakeFirst();
}

/** Locks the policy row for the staff change: its bounds are checked against the row as it now is. */
export async function lockPolicy(transaction: ScopedTransaction, tableName: string) {
  return transaction
    .selectFrom('data_retention_policies')
    .select(policyColumns)
    .where('table_name', '=', tableName)
    .forUpdate()
    .executeTakeFirst();
}

export interface PolicyChanges {
  retention_period_days?: number;
  archive_after_days?: number | null;
  delete_after_days?: number | null;
  is_active?: boolean;
}

export async function updatePolicy(
  transaction: ScopedTransaction,
  tableName: string,
  changes: PolicyChanges,
) {
  return transaction
    .updateTable('data_retention_policies')
    .set(changes)
    .where('table_name', '=', tableName)
    .returning(policyColumns)
    .executeTakeFirstOrThrow();
}

/**
 * The retention job's transaction: maintenance lets the owner delete from the append-only logs,
 * row_security off makes PostgreSQL refuse (not silently narrow) a query RLS would filter, and UTC
 * makes the timestamps written as text (the archive cursor, partition bounds) unambiguous.
 */
export async function enterRetentionMaintenance(transaction: OwnerTransaction): Promise<void> {
  await sql`select set_config('corebank.maintenance', 'on', true),
                   set_config('row_security', 'off', true),
                   set_config('statement_timeout', '0', true),
                   set_config('TimeZone', 'UTC', true)`.execute(transaction);
}

/**
 * Ends maintenance for the rest of the transaction, before its audit rows are written as the
 * application role: row-level security applies to them again, as to any audit row.
 */
export async function leaveRetentionMaintenance(transaction: OwnerTransaction): Promise<void> {
  await sql`select set_config('corebank.maintenance', 'off', true),
                   set_config('row_security', 'on', true)`.execute(transaction);
}

/**
 * One transaction-level advisory lock per table: a second run (another process, another server) that
 * reaches the same table while the first holds it skips the table instead of archiving it again. The
 * lock is released at commit or rollback, so a crashed run never leaves it held.
 */
export async function tryLockTable(transaction: OwnerTransaction, tableName: string): Promise<boolean> {
  const result = await sql<{ locked: boolean }>`
    select pg_try_advisory_xact_lock(hashtext('corebank.retention'), hashtext(${tableName})) as locked`.execute(
    transaction,
  );
  return result.rows[0]?.locked === true;
}

/** The policy as of now, read after the lock, so a run that waited sees the watermark the other moved. */
export async function readPolicyForRun(transaction: OwnerTransaction, tableName: string) {
  return transaction
    .selectFrom('data_retention_policies')
    .select(policyColumns)
    .where('table_name', '=', tableName)
    .forUpdate()
    .executeTakeFirst();
}

/**
 * SHARE locks until commit: a legal hold placed (or released), or an incident linked, while a run
 * cleans a table commits after the run, never between the run's read of what is held and its delete.
 * Incidents are locked only for security_events, the one table they protect.
 */
export async function lockHoldsAndIncidents(
  transaction: OwnerTransaction,
  incidents: boolean,
): Promise<void> {
  await sql`lock table legal_holds in share mode`.execute(transaction);
  if (incidents) await sql`lock table security_incidents in share mode`.execute(transaction);
}

/** The security events an open (or investigating) incident links: kept whatever their age. */
export async function selectIncidentEventIds(transaction: OwnerTransaction): Promise<string[]> {
  const result = await sql<{ id: string }>`
    select distinct unnest(related_event_ids)::text as id from security_incidents
    where status in ('open', 'investigating')`.execute(transaction);
  return result.rows.map((row) => row.id);
}

export interface HeldSets {
  userIds: readonly string[];
  eventIds: readonly string[];
}

/** True for a row that must be kept: it names a held user, or is an event an open incident links. */
function heldCondition(table: RetentionTable, held: HeldSets): RawBuilder<unknown> {
  const users = sql`${held.userIds}::uuid[]`;
  const conditions = table.userColumns.map(
    (column) => sql`coalesce(${sql.ref(column)} = any(${users}), false)`,
  );
  if (table.incidentEvents) conditions.push(sql`id = any(${held.eventIds}::uuid[])`);
  return sql`(${sql.join(conditions, sql` or `)})`;
}

export interface RowRange {
  /** Inclusive; undefined for "from the oldest row". */
  from: Date | undefined;
  /** Exclusive. */
  to: Date;
}

function rangeCondition(range: RowRange): RawBuilder<unknown> {
  return range.from
    ? sql`created_at >= ${range.from} and created_at < ${range.to}`
    : sql`created_at < ${range.to}`;
}

export async function countRows(
  transaction: OwnerTransaction,
  relation: string,
  range: RowRange,
  keep?: { table: RetentionTable; held: HeldSets },
): Promise<number> {
  const kept = keep ? sql` and not ${heldCondition(keep.table, keep.held)}` : sql``;
  const result = await sql<{ count: number }>`
    select count(*)::int as count from ${sql.table(relation)} where ${rangeCondition(range)}${kept}`.execute(
    transaction,
  );
  return result.rows[0]?.count ?? 0;
}

export interface ArchiveCursor {
  createdAt: string;
  id: string;
}

/**
 * One page of rows in (created_at, id) order, each as PostgreSQL's jsonb text (numerics and bigints
 * never pass through a JavaScript number). The cursor is the timestamp as text: a Date would drop
 * the microseconds and the next page would skip or repeat rows.
 */
export async function selectArchivePage(
  transaction: OwnerTransaction,
  tableName: string,
  range: RowRange,
  after: ArchiveCursor | undefined,
  limit: number,
) {
  const next = after
    ? sql` and (created_at, id) > (${after.createdAt}::timestamptz, ${after.id}::uuid)`
    : sql``;
  const result = await sql<{ created_at: string; id: string; row: string }>`
    select created_at::text as created_at, id::text as id, to_jsonb(t)::text as row
    from ${sql.table(tableName)} t where ${rangeCondition(range)}${next}
    order by created_at, id limit ${limit}`.execute(transaction);
  return result.rows;
}

export interface MonthlyPartition {
  name: string;
  from: Date;
  to: Date;
}

const boundPattern = /FROM \('([^']+)'\) TO \('([^']+)'\)/;

/** The table's range partitions with their bounds (the default partition has none and is not listed). */
export async function selectMonthlyPartitions(
  transaction: OwnerTransaction,
  tableName: string,
): Promise<MonthlyPartition[]> {
  const result = await sql<{ name: string; bound: string }>`
    select c.relname as name, pg_get_expr(c.relpartbound, c.oid) as bound
    from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = ${tableName}::regclass order by c.relname`.execute(transaction);
  const partitions: MonthlyPartition[] = [];
  for (const row of result.rows) {
    const match = boundPattern.exec(row.bound);
    if (!match?.[1] || !match[2]) continue;
    partitions.push({ name: row.name, from: new Date(match[1]), to: new Date(match[2]) });
  }
  return partitions;
}

export type TenantCounts = Map<string, number>;

async function selectTenantCounts(
  transaction: OwnerTransaction,
  query: RawBuilder<{ tenant_id: string; count: number }>,
): Promise<TenantCounts> {
  const result = await query.execute(transaction);
  return new Map(result.rows.map((row) => [row.tenant_id, row.count]));
}

/** Rows per tenant in a partition about to be dropped (for each tenant's audit row). */
export async function countPartitionByTenant(transaction: OwnerTransaction, partition: string) {
  return selectTenantCounts(
    transaction,
    sql<{ tenant_id: string; count: number }>`
      select tenant_id::text as tenant_id, count(*)::int as count from ${sql.table(partition)}
      group by tenant_id`,
  );
}

/**
 * Detaches a month from its table and drops it. Not CONCURRENTLY: that cannot run inside the
 * transaction that also records the archive and the audit rows, which must commit with the drop.
 */
export async function dropPartition(
  transaction: OwnerTransaction,
  tableName: string,
  partition: string,
): Promise<void> {
  await sql`alter table ${sql.table(tableName)} detach partition ${sql.table(partition)}`.execute(
    transaction,
  );
  await sql`drop table ${sql.table(partition)}`.execute(transaction);
}

/** Deletes the rows of the range that no hold or open incident keeps; returns how many per tenant. */
export async function deleteUnheldRows(
  transaction: OwnerTransaction,
  relation: string,
  range: RowRange,
  keep: { table: RetentionTable; held: HeldSets },
): Promise<TenantCounts> {
  return selectTenantCounts(
    transaction,
    sql<{ tenant_id: string; count: number }>`
      with deleted as (
        delete from ${sql.table(relation)}
        where ${rangeCondition(range)} and not ${heldCondition(keep.table, keep.held)}
        returning tenant_id)
      select tenant_id::text as tenant_id, count(*)::int as count from deleted group by tenant_id`,
  );
}

export interface ArchiveRecord {
  table_name: string;
  file_name: string;
  sha256: string;
  size_bytes: number;
  row_count: number;
  range_start: Date | null;
  range_end: Date;
  encryption_key_id: string | null;
}

export async function insertArchiveRecord(
  transaction: OwnerTransaction,
  record: ArchiveRecord,
): Promise<void> {
  await transaction.insertInto('retention_archives').values(record).execute();
}

export async function selectArchiveRecord(executor: Kysely<Database>, fileName: string) {
  return executor
    .selectFrom('retention_archives')
    .selectAll()
    .where('file_name', '=', fileName)
    .executeTakeFirst();
}

export async function markCleanup(
  transaction: OwnerTransaction,
  tableName: string,
  archivedThrough: Date | null,
  now: Date,
): Promise<void> {
  await transaction
    .updateTable('data_retention_policies')
    .set({ last_cleanup_at: now, archived_through: archivedThrough })
    .where('table_name', '=', tableName)
    .execute();
}

/** The tenants in id order (each retention audit row is written in its tenant's scope). */
export async function selectTenantIds(transaction: OwnerTransaction): Promise<string[]> {
  const rows = await transaction.selectFrom('tenants').select('id').orderBy('id').execute();
  return rows.map((row) => row.id);
}
