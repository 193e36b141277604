import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteDialect, PostgresDialect, type PostgresPool, type PostgresPoolClient } from 'kysely';
import pg from 'pg';
import { acquireDataDirectoryLock } from './data-directory-lock.ts';
import { databaseUnavailable, databaseUnavailableLogFields } from './database-errors.ts';
import type { Database } from './schema.ts';

export type Engine = 'pglite' | 'postgres';

export interface DatabaseHandle {
  db: Kysely<Database>;
  engine: Engine;
  /** Present on the embedded engine only: the in-process PostgreSQL instance. */
  pglite: PGlite | undefined;
  /** PostgreSQL engine only: several statements in one round trip (see SimpleQuery). */
  simpleQuery?: SimpleQuery | undefined;
  close(): Promise<void>;
}

/** The rows of one statement of a simple-protocol string. */
export interface StatementResult {
  rows: Record<string, unknown>[];
}

/**
 * Sends `text`, several statements without parameters, as one simple-protocol message on one pooled
 * connection: one round trip however many statements it holds; the result of each, in order. When a
 * statement fails the server skips the rest, and a transaction the text opened stays open in the
 * failed state, so it is rolled back (a second round trip, on the error path only) before the
 * connection returns to the pool.
 */
export type SimpleQuery = (text: string) => Promise<StatementResult[]>;

export interface DatabaseOptions {
  databaseUrl?: string | undefined;
  /** Embedded engine: a directory to persist to; undefined keeps the database in memory. */
  dataDirectory?: string | undefined;
  /** Embedded engine: start from this data directory image (a migrated template, in tests). */
  loadDataDirectory?: Blob | File | undefined;
  poolMax?: number;
  /**
   * How long a query may wait for a pooled connection, including opening one. pg applies the same
   * limit to waiting behind a full pool, so a burst larger than the pool queues up to this long
   * instead of failing.
   */
  acquireTimeoutMs?: number;
  /**
   * PostgreSQL's statement_timeout for every connection, and the client's own limit on a query
   * (queryTimeoutMs, a little longer: it fires only when the server does not answer at all). Unset,
   * a statement may run as long as it needs (the CLI: backups, ledger checks, migrations).
   */
  statementTimeoutMs?: number | undefined;
  queryTimeoutMs?: number | undefined;
  applicationName?: string;
  /** Where connection errors are logged; by default one line on stderr. */
  logger?: DatabaseLogger;
  /** Embedded engine: who holds the data directory (written to its lock file, shown to a refused opener). */
  holder?: string;
}

/** The part of a pino logger the database uses. */
export interface DatabaseLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

const stderrLogger: DatabaseLogger = {
  warn: (fields, message) => process.stderr.write(`corebank: ${message} ${JSON.stringify(fields)}\n`),
};

const int8Oid = 20;

/**
 * BIGINT columns hold money in minor units and sequence numbers. They are read as JS numbers, which
 * is exact up to 2^53-1; every amount is bounded below that at the API, so a larger value here means
 * corrupted data and must not be rounded silently.
 */
export function parseSafeInteger(text: string): number {
  const value = Number(text);
  assert.ok(Number.isSafeInteger(value), `BIGINT value ${text} exceeds the exact integer range`);
  return value;
}

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options);
  return openPglite(options);
}

async function openPglite(options: DatabaseOptions): Promise<DatabaseHandle> {
  let releaseLock = () => {};
  if (options.dataDirectory) {
    mkdirSync(options.dataDirectory, { recursive: true });
    // PGlite is one process's database: a second process writing the same files corrupts them.
    releaseLock = acquireDataDirectoryLock(options.dataDirectory, options.holder ?? 'corebank');
  }
  let pglite: PGlite;
  try {
    pglite = await PGlite.create({
      dataDir: options.dataDirectory,
      loadDataDir: options.loadDataDirectory,
      parsers: { [int8Oid]: parseSafeInteger },
    });
  } catch (error) {
    releaseLock();
    throw error;
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
  return {
    db,
    engine: 'pglite',
    pglite,
    close: async () => {
      try {
        await db.destroy();
        if (!pglite.closed) await pglite.close();
      } finally {
        releaseLock();
      }
    },
  };
}

async function openPostgres(databaseUrl: string, options: DatabaseOptions): Promise<DatabaseHandle> {
  const logger = options.logger ?? stderrLogger;
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.poolMax ?? 20,
    application_name: options.applicationName ?? 'corebank',
    // pg applies this one limit to opening a connection and to waiting for a pooled one.
    connectionTimeoutMillis: options.acquireTimeoutMs ?? 30_000,
    idleTimeoutMillis: 30_000,
    // Detects a peer that vanished without a FIN (a partition) on idle pooled connections too.
    keepAlive: true,
    ...(options.statementTimeoutMs === undefined ? {} : { statement_timeout: options.statementTimeoutMs }),
    ...(options.queryTimeoutMs === undefined ? {} : { query_timeout: options.queryTimeoutMs }),
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === int8Oid
          ? parseSafeInteger
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // A connection that breaks emits 'error' on its client, checked out or idle. Without a listener that
  // is an uncaught exception that ends the process (a reset of every connection did, issue 7.9), so
  // every client gets one that logs; the query it broke, if any, fails on its own and answers 503.
  pool.on('connect', (client) => {
    client.on('error', (error: unknown) => {
      const unavailable = databaseUnavailable(error);
      const fields = unavailable ? databaseUnavailableLogFields(unavailable) : { reason: String(error) };
      logger.warn({ database: fields }, 'database connection lost');
    });
  });
  // The same error reaches the pool for an idle client; the client's listener above has logged it, and
  // pg-pool has already removed the client: the next checkout opens a new connection.
  pool.on('error', () => {});
  const guardedPool = discardingBrokenConnections(pool);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: guardedPool }) });
  const simpleQuery: SimpleQuery = (text) => runSimpleQuery(guardedPool, text);
  return { db, engine: 'postgres', pglite: undefined, simpleQuery, close: () => db.destroy() };
}

async function runSimpleQuery(pool: PostgresPool, text: string): Promise<StatementResult[]> {
  const client = await pool.connect();
  let destroy = false;
  try {
    // No parameters: pg sends the text with the simple protocol, which allows several statements,
    // and answers an array of results (one result, not an array, for a single statement).
    const result = (await client.query(text, [])) as unknown as StatementResult | StatementResult[];
    return Array.isArray(result) ? result : [result];
  } catch (error) {
    if (!databaseUnavailable(error)) {
      await client.query('rollback', []).catch(() => {
        destroy = true;
      });
    }
    throw error;
  } finally {
    client.release(destroy);
  }
}

/**
 * Kysely releases a connection to the pool without saying whether it still works. A query that timed
 * out on the client (the server never answered) leaves its connection waiting for that answer: back in
 * the pool, it would hang every later query sent on it. So a connection on which a query failed for an
 * availability reason refuses every further query at once (a transaction's rollback does not wait a
 * second timeout) and is destroyed on release instead of being reused.
 */
function discardingBrokenConnections(pool: pg.Pool): PostgresPool {
  const guarded = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  const guard = (client: pg.PoolClient): PostgresPoolClient => {
    let broken: unknown;
    const query = async (text: unknown, parameters: readonly unknown[] = []) => {
      // Kysely passes a cursor only for streaming, which this dialect is not configured for.
      assert.ok(typeof text === 'string', 'only text queries are sent through the pool');
      if (broken !== undefined) throw broken;
      try {
        return await client.query(text, [...parameters]);
      } catch (error) {
        if (databaseUnavailable(error)) broken = error;
        throw error;
      }
    };
    return {
      // One implementation for the two overloads Kysely declares; the cursor one is never called (above).
      query: query as unknown as PostgresPoolClient['query'],
      release: (destroy?: boolean) => client.release(destroy === true || broken !== undefined),
    };
  };
  return {
    options: pool.options,
    end: () => pool.end(),
    connect: async () => {
      const client = await pool.connect();
      let wrapper = guarded.get(client);
      if (!wrapper) {
        wrapper = guard(client);
        guarded.set(client, wrapper);
      }
      return wrapper;
    },
  };
}
