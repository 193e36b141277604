import assert from 'node:assert/strict';
import { type CompiledQuery, type Kysely, sql } from 'kysely';
import type { DatabaseHandle } from '../../db/database.ts';
import type { Database } from '../../db/schema.ts';
import { readInScope, type Scope, type ScopedTransaction } from '../../db/tenant-transaction.ts';
import { decodeCursor, encodeCursor } from '../../platform/pagination.ts';
import type { StatementQuery } from './transactions.schemas.ts';

export interface StatementEntry {
  id: string;
  transaction_id: string;
  user_id: string | null;
  type: string;
  status: string;
  asset: string;
  amount: number;
  balance_before: number;
  balance_after: number;
  entry_sequence: number;
  description: string | null;
  operation_id: string | null;
  created_at: string;
}

export interface StatementPage {
  transactions: StatementEntry[];
  next_cursor: string | null;
}

/**
 * One page of a user's ledger entries, newest first. Keyset pagination on (created_at, id) — the
 * cursor carries the timestamp to the microsecond, so entries committed in the same millisecond are
 * neither skipped nor repeated — and it walks the (tenant, user, created_at, id) index.
 */
export async function readStatement(
  transaction: ScopedTransaction,
  tenantId: string,
  userId: string,
  query: StatementQuery,
): Promise<StatementPage> {
  const result = await transaction.executeQuery(statementQuery(transaction, tenantId, userId, query));
  return statementPage(result.rows, query.limit);
}

/** The caller's own statement in one round trip (readInScope), scoped to the caller as user. */
export async function readOwnStatement(
  database: DatabaseHandle,
  scope: Scope,
  query: StatementQuery,
): Promise<StatementPage> {
  const { tenantId, userId } = scope;
  assert.ok(userId !== undefined, 'an own statement is read as its owner');
  const compiled = statementQuery(database.db, tenantId, userId, query);
  return statementPage(await readInScope(database, scope, compiled), query.limit);
}

type StatementRow = StatementEntry & { cursor_time: string };

function statementQuery(
  db: Kysely<Database>,
  tenantId: string,
  userId: string,
  query: StatementQuery,
): CompiledQuery<StatementRow> {
  const [cursorTime, cursorId] = query.cursor ? decodeCursor(query.cursor, ['time', 'id']) : [];
  // Every column is qualified with `t.`: the select list names a text column `created_at`, and an
  // unqualified ORDER BY name resolves to an output column before a table column (regression, issue
  // 7.7: rows were ordered by the millisecond text while the cursor compared microseconds).
  return sql<StatementRow>`
    select t.id, t.movement_id as transaction_id, t.user_id, t.type, t.status, t.asset_code as asset, t.amount,
           t.balance_before, t.balance_after, t.entry_sequence, t.description, t.operation_id,
           to_char(t.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at,
           to_char(t.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_time
    from transactions t
    where t.tenant_id = ${tenantId} and t.user_id = ${userId}
      ${query.type ? sql`and t.type = ${query.type}` : sql``}
      ${query.asset ? sql`and t.asset_code = ${query.asset}` : sql``}
      ${query.from ? sql`and t.created_at >= ${query.from}::timestamptz` : sql``}
      ${query.to ? sql`and t.created_at < ${query.to}::timestamptz` : sql``}
      ${cursorTime && cursorId ? sql`and (t.created_at, t.id) < (${cursorTime}::timestamptz, ${cursorId}::uuid)` : sql``}
    order by t.created_at desc, t.id desc
    limit ${query.limit + 1}`.compile(db);
}

/** The page of `limit` entries out of the limit + 1 read: one more means there is a next page. */
function statementPage(rows: readonly StatementRow[], limit: number): StatementPage {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const hasMore = rows.length > limit;
  return {
    transactions: page.map(({ cursor_time: _cursorTime, ...entry }) => entry),
    next_cursor: hasMore && last ? encodeCursor([last.cursor_time, last.id]) : null,
  };
}
