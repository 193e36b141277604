/**
 * Migrates one template database per engine before the suites start, so each test file copies a
 * migrated database instead of migrating its own: a PGlite data-directory image on disk, or a
 * PostgreSQL database used as `CREATE DATABASE … TEMPLATE`.
 * Usage: build-test-template.ts pglite <image path> | postgres <server url> <template name>
 */
import { writeFile } from 'node:fs/promises';
import { sql } from 'kysely';
import { openDatabase } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrator.ts';

const [engine, target, templateName] = process.argv.slice(2);

if (engine === 'pglite' && target) {
  const handle = await openDatabase({});
  await migrateToLatest(handle.db);
  const image = await handle.pglite?.dumpDataDir('none');
  if (!image) throw new Error('PGlite did not produce a data directory image');
  await writeFile(target, Buffer.from(await image.arrayBuffer()));
  await handle.close();
} else if (engine === 'postgres' && target && templateName) {
  const admin = await openDatabase({ databaseUrl: target, poolMax: 1 });
  await sql.raw(`drop database if exists "${templateName}" with (force)`).execute(admin.db);
  await sql.raw(`create database "${templateName}"`).execute(admin.db);
  await admin.close();
  const url = new URL(target);
  url.pathname = `/${templateName}`;
  const template = await openDatabase({ databaseUrl: url.toString(), poolMax: 1 });
  await migrateToLatest(template.db);
  await template.close();
} else {
  process.stderr.write('usage: build-test-template.ts pglite <image> | postgres <url> <template name>\n');
  process.exit(2);
}
