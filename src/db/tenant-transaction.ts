import assert from 'node:assert/strict';
import { type CompiledQuery, type Kysely, sql, type Transaction } from 'kysely';
import type { DatabaseHandle } from './database.ts';
import type { Database } from './schema.ts';
import { inlineParameters } from './sql-literals.ts';

/** Who a database transaction acts for; row-level security reads these settings. */
export interface Scope {
  tenantId: string;
  /** Set for a customer acting on their own data; restricts user-private tables to their rows. */
  userId?: string | undefined;
  /**
   * Set by a route whose session is checked with its read ('with-read', auth-guard.ts): readInScope
   * sends the guard's session check in the same round trip as the read and hands its row to
   * `complete`, which throws (401/403) before any row read is returned.
   */
  sessionCheck?: PendingSessionCheck | undefined;
}

/** The guard's session check, deferred to the route's first scoped read (see Scope.sessionCheck). */
export interface PendingSessionCheck {
  /** One SQL statement (literals only) that returns the session's row, or none. */
  statement: string;
  /** Decides on the statement's row: sets the principal, or throws UNAUTHENTICATED / FORBIDDEN / … */
  complete(row: unknown): void;
  /** The check on its own, for the embedded engine (one connection; a round trip costs no network). */
  runAlone(): Promise<void>;
}

export type ScopedTransaction = Transaction<Database>;

/** The non-owner, non-superuser role every application query runs as, so RLS always applies. */
export const applicationRole = 'corebank_app';

/**
 * Runs `work` in one transaction as the application role with the tenant (and optionally the user)
 * set for row-level security. All three settings are transaction-local (`is_local = true`), so a
 * pooled connection never carries one request's tenant into the next.
 */
export async function withScope<T>(
  db: Kysely<Database>,
  scope: Scope,
  work: (transaction: ScopedTransaction) => Promise<T>,
): Promise<T> {
  return db.transaction().execute(async (transaction) => {
    await applyScope(transaction, scope, applicationRole);
    return work(transaction);
  });
}

export async function applyScope(transaction: ScopedTransaction, scope: Scope, role: string): Promise<void> {
  await sql`select set_config('app.tenant_id', ${scope.tenantId}, true),
                   set_config('app.user_id', ${scope.userId ?? ''}, true),
                   set_config('role', ${role}, true)`.execute(transaction);
}

const canonicalUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * One read statement in the scope, in ONE database round trip on a PostgreSQL server (issue 8 item 5;
 * withScope costs four: begin, the settings, the query, commit). The four travel as one
 * simple-protocol string:
 *
 *   begin read only;
 *   select set_config('app.tenant_id', '<uuid>', true), set_config('app.user_id', '<uuid or empty>', true),
 *          set_config('role', 'corebank_app', true);
 *   <the query, its parameters written as literals (sql-literals.ts)>;
 *   commit
 *
 * Row-level security is exactly as strict as under withScope: the same three transaction-local
 * settings, set before the query runs, as the same non-owner role; `read only` adds that nothing can
 * be written. The tenant and user ids are checked to be canonical uuids before they are written into
 * the text. On the embedded engine (one connection, shared through Kysely's transaction queue, and a
 * transaction costs no network) the read runs under withScope.
 *
 * A scope carrying a session check (a 'with-read' route) also folds the guard's check into the same
 * round trip: `begin; <the check>; <the settings>; <the query>; commit`. The check's own settings are
 * replaced by the read's before the query runs; its row is decided before any row read is returned, so
 * a revoked session reads nothing it can see (the rows are dropped) and answers exactly as the guard.
 */
export async function readInScope<Row>(
  database: DatabaseHandle,
  scope: Scope,
  query: CompiledQuery<Row>,
): Promise<Row[]> {
  const check = scope.sessionCheck;
  if (!database.simpleQuery) {
    if (check) await check.runAlone();
    return withScope(database.db, scope, async (transaction) => (await transaction.executeQuery(query)).rows);
  }
  assert.ok(canonicalUuid.test(scope.tenantId), 'the scope names its tenant by a canonical uuid');
  assert.ok(
    scope.userId === undefined || canonicalUuid.test(scope.userId),
    'the scope user is a canonical uuid',
  );
  const settings = `select set_config('app.tenant_id', '${scope.tenantId}', true), set_config('app.user_id', '${scope.userId ?? ''}', true), set_config('role', '${applicationRole}', true)`;
  // With a session check the transaction cannot be read only: the check may touch the session.
  const statements = check
    ? ['begin', check.statement, settings, inlineParameters(query.sql, query.parameters), 'commit']
    : ['begin read only', settings, inlineParameters(query.sql, query.parameters), 'commit'];
  const results = await database.simpleQuery(statements.join(';\n'));
  assert.equal(results.length, statements.length, 'a scoped read answers a result per statement');
  // The check decides before a single row leaves this function: a refused session throws here.
  if (check) check.complete(results[1]?.rows[0]);
  return (results[statements.length - 2]?.rows ?? []) as Row[];
}
