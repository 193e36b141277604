import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type DatabaseHandle, type Engine, openDatabase } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrator.ts';

/**
 * Every database suite runs once per engine: PGlite by default, the PostgreSQL server when the runner
 * sets TEST_ENGINE=postgres (it does so when TEST_DATABASE_URL is set).
 * The runner (scripts/run-tests.js) migrates one template per engine before the suites start, and each
 * test file gets its own copy: a PGlite data-directory image, or `CREATE DATABASE … TEMPLATE …`.
 */
export const testEngine: Engine = process.env.TEST_ENGINE === 'postgres' ? 'postgres' : 'pglite';

export interface TestDatabase extends DatabaseHandle {
  /** The connection URL of this copy (PostgreSQL engine only). */
  url: string | undefined;
}

export async function openTestDatabase(): Promise<TestDatabase> {
  return testEngine === 'postgres' ? openPostgresCopy() : openPgliteCopy();
}

async function openPgliteCopy(): Promise<TestDatabase> {
  const templatePath = process.env.COREBANK_PGLITE_TEMPLATE;
  if (templatePath) {
    const image = new Blob([await readFile(templatePath)]);
    const handle = await openDatabase({ loadDataDirectory: image });
    return { ...handle, url: undefined };
  }
  const handle = await openDatabase({});
  await migrateToLatest(handle.db);
  return { ...handle, url: undefined };
}

export function serverUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set');
  return url;
}

export function urlForDatabase(name: string): string {
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

async function openPostgresCopy(): Promise<TestDatabase> {
  const name = `corebank_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = await openDatabase({ databaseUrl: serverUrl(), poolMax: 1 });
  const template = process.env.COREBANK_POSTGRES_TEMPLATE ?? '';
  try {
    const { sql } = await import('kysely');
    await sql
      .raw(template ? `create database "${name}" template "${template}"` : `create database "${name}"`)
      .execute(admin.db);
  } finally {
    await admin.close();
  }
  const url = urlForDatabase(name);
  const handle = await openDatabase({ databaseUrl: url, poolMax: 10 });
  if (!template) await migrateToLatest(handle.db);
  return {
    ...handle,
    url,
    close: async () => {
      await handle.close();
      await dropDatabase(name);
    },
  };
}

export async function dropDatabase(name: string): Promise<void> {
  const admin = await openDatabase({ databaseUrl: serverUrl(), poolMax: 1 });
  try {
    const { sql } = await import('kysely');
    await sql.raw(`drop database if exists "${name}" with (force)`).execute(admin.db);
  } finally {
    await admin.close();
  }
}
