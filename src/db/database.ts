import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteDialect, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';

export type Engine = 'pglite' | 'postgres';

export interface DatabaseHandle {
  db: Kysely<Database>;
  engine: Engine;
  /** Present on the embedded engine only: the in-process PostgreSQL instance. */
  pglite: PGlite | undefined;
  close(): Promise<void>;
}

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
  applicationName?: string;
}

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
  if (options.dataDirectory) mkdirSync(options.dataDirectory, { recursive: true });
  const pglite = await PGlite.create({
    dataDir: options.dataDirectory,
    loadDataDir: options.loadDataDirectory,
    parsers: { [int8Oid]: parseSafeInteger },
  });
  const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
  return {
    db,
    engine: 'pglite',
    pglite,
    close: async () => {
      await db.destroy();
      if (!pglite.closed) await pglite.close();
    },
  };
}

async function openPostgres(databaseUrl: string, options: DatabaseOptions): Promise<DatabaseHandle> {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.poolMax ?? 20,
    application_name: options.applicationName ?? 'corebank',
    connectionTimeoutMillis: options.acquireTimeoutMs ?? 30_000,
    idleTimeoutMillis: 30_000,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === int8Oid
          ? parseSafeInteger
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client that loses its connection emits 'error' on the pool; without a listener that
  // would crash the process. The next checkout simply opens a new connection.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, engine: 'postgres', pglite: undefined, close: () => db.destroy() };
}
