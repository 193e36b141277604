import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Command } from 'commander';
import { sql } from 'kysely';
import { registerBackupCommands } from '../../src/cli/commands/backup.command.ts';
import { createProgress, type ProgressStream } from '../../src/cli/progress.ts';
import { CliError, type CliRuntime } from '../../src/cli/runtime.ts';
import { loadConfig } from '../../src/config/config.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.ts';
import { seedDatabase } from '../../src/db/seed/seed.ts';
import {
  clearDatabase,
  createBackup,
  listBackups,
  pruneBackups,
  restoreBackup,
} from '../../src/modules/backup/backup.service.ts';
import {
  type BackupHeader,
  type BackupManifest,
  manifestPathFor,
  readBackupLines,
  readManifest,
  sha256OfFile,
} from '../../src/modules/backup/backup-format.ts';
import { signManifest } from '../../src/modules/backup/backup-manifest.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { rejectsWith, snapshotRows } from './backup-fixtures.ts';

const config = loadConfig({ NODE_ENV: 'test' });
const keys = config.backup.keys;
let handle: TestDatabase;
let directory: string;

async function appliedMigrations(): Promise<string[]> {
  const result = await sql<{ name: string }>`select name from schema_migrations order by name`.execute(
    handle.db,
  );
  return result.rows.map((row) => row.name);
}

/** Copies a backup under a new name, letting a test edit its header and manifest (re-signed to match). */
async function rewriteBackup(
  source: string,
  target: string,
  edit: { header?: (header: BackupHeader) => void; manifest?: (manifest: BackupManifest) => void },
): Promise<void> {
  const lines: string[] = [];
  for await (const line of readBackupLines(source)) lines.push(line);
  const header = JSON.parse(lines[0] ?? '') as BackupHeader;
  edit.header?.(header);
  lines[0] = JSON.stringify(header);
  await writeFile(target, gzipSync(`${lines.join('\n')}\n`));
  const manifest = await readManifest(source);
  manifest.file = basename(target);
  manifest.sha256 = await sha256OfFile(target);
  manifest.size_bytes = (await stat(target)).size;
  edit.manifest?.(manifest);
  await writeFile(manifestPathFor(target), JSON.stringify(resign(manifest)));
}

/** The manifest signed again with the configured key: what someone holding the key could write. */
function resign(manifest: BackupManifest): BackupManifest {
  const { mac: _mac, ...unsigned } = manifest;
  return signManifest(unsigned, keys.manifest);
}

/** Rows no seed writes: exact numerics, a generated column, an identity, a self-reference, an old month. */
async function insertEdgeCaseRows(): Promise<void> {
  await sql`create table backup_scratch (
              id bigint generated always as identity primary key,
              parent_id bigint references backup_scratch (id),
              amount numeric(30, 10) not null,
              doubled numeric generated always as (amount * 2) stored,
              note text,
              raw json)`.execute(handle.db);
  // A json column keeps its text verbatim, newlines included: the file must still hold one row per line.
  await sql`insert into backup_scratch (amount, note, raw) values
              (0.0000000001, e'line one\nline two', e'{\n  "spaced": [1,\n 2]\n}'),
              (9007199254740993, null, null),
              (12345678901234567890.0123456789, 'parent: ünïcödé "quoted" \\ back', '[]')`.execute(handle.db);
  // The child's key sorts before its parent's, so the file holds the child first.
  await sql`update backup_scratch set parent_id = 3 where id = 1`.execute(handle.db);
  const tenant = await sql<{ id: string }>`
    insert into tenants (slug, name, settings) values ('edge', 'Edge tenant', '{"limits": [1, 2.50, null]}')
    returning id`.execute(handle.db);
  const tenantId = tenant.rows[0]?.id;
  await sql`insert into audit_logs (tenant_id, created_at, entity_type, entity_id, action, ip_address, details)
            values (${tenantId}, '2019-02-03 04:05:06.123456+00', 'tenant', ${tenantId ?? ''}, 'create',
                    '10.1.2.3', '{"why": "a row in the default partition"}')`.execute(handle.db);
}

before(async () => {
  handle = await openTestDatabase();
  directory = await mkdtemp(join(tmpdir(), 'corebank-backup-test-'));
  await seedDatabase(handle, config);
  await insertEdgeCaseRows();
});

after(async () => {
  await handle?.close();
  if (directory) await rm(directory, { recursive: true, force: true });
});

describe('backup and restore', () => {
  test('backup, clear and restore give back every row of every table', async () => {
    const before = await snapshotRows(handle.db);
    const populated = Object.entries(before).filter(([, rows]) => rows.length > 0);
    assert.ok(populated.length >= 20, `the fixture fills most tables (got ${populated.length})`);
    for (const table of [
      'tenants',
      'users',
      'transactions',
      'audit_logs',
      'login_audits',
      'backup_scratch',
    ]) {
      assert.ok((before[table]?.length ?? 0) > 0, `${table} has fixture rows`);
    }
    const migrations = await appliedMigrations();

    const backup = await createBackup(handle, { mode: 'full', outDirectory: directory, keys });
    assert.match(basename(backup.path), /^corebank-\d{8}T\d{6}\.\d{3}Z-full\.cbk\.gz$/);
    assert.equal(backup.manifest.sha256, await sha256OfFile(backup.path));
    assert.equal(backup.manifest.schema_version, migrations.at(-1));
    assert.deepEqual(backup.manifest.migrations, migrations);
    for (const [table, rows] of Object.entries(before))
      assert.equal(backup.manifest.row_counts[table], rows.length);
    assert.ok(
      !('backups' in backup.manifest.row_counts) && !('schema_migrations' in backup.manifest.row_counts),
    );
    const recorded = await sql<{ sha256: string; mode: string }>`
      select sha256, mode from backups where file_name = ${basename(backup.path)}`.execute(handle.db);
    assert.deepEqual(recorded.rows, [{ sha256: backup.manifest.sha256, mode: 'full' }]);

    await clearDatabase(handle);
    const restored = await restoreBackup(handle, { file: backup.path, keys });
    assert.equal(restored.rowsRestored, Object.values(before).flat().length);
    assert.deepEqual(await snapshotRows(handle.db), before);
    assert.deepEqual(await appliedMigrations(), migrations);
  });

  test('restore sets sequences back so new rows do not collide with restored ones', async () => {
    const backup = await createBackup(handle, { mode: 'data-only', outDirectory: directory, keys });
    // As on a freshly migrated database, the identity sequence starts over.
    await sql`alter table backup_scratch alter column id restart with 1`.execute(handle.db);
    await restoreBackup(handle, { file: backup.path, keys });
    const inserted = await sql<{ id: string }>`
      insert into backup_scratch (amount) values (1) returning id::text as id`.execute(handle.db);
    assert.equal(inserted.rows[0]?.id, '4');
    await sql`delete from backup_scratch where id = 4`.execute(handle.db);
  });

  test('regression: restore does not run INSERT triggers, so rows come back as they were', async () => {
    const before = await snapshotRows(handle.db);
    const backup = await createBackup(handle, { mode: 'full', outDirectory: directory, keys });
    await sql`create function backup_test_rewrite() returns trigger language plpgsql as $$
              begin new.name := 'rewritten'; return new; end $$`.execute(handle.db);
    await sql`create function backup_test_rewrite_action() returns trigger language plpgsql as $$
              begin new.action := 'rewritten'; return new; end $$`.execute(handle.db);
    await sql`create trigger backup_test_rewrite before insert on tenants
              for each row execute function backup_test_rewrite()`.execute(handle.db);
    // On a partitioned table the trigger lives on every partition: disabling it must reach them all.
    await sql`create trigger backup_test_rewrite before insert on audit_logs
              for each row execute function backup_test_rewrite_action()`.execute(handle.db);
    try {
      await restoreBackup(handle, { file: backup.path, keys });
      assert.deepEqual(await snapshotRows(handle.db), before);
      const enabled = await sql<{ enabled: string }>`
        select distinct tgenabled as enabled from pg_trigger where tgname = 'backup_test_rewrite'`.execute(
        handle.db,
      );
      assert.deepEqual(enabled.rows, [{ enabled: 'O' }], 'the triggers are enabled again after the restore');
    } finally {
      await sql`drop trigger backup_test_rewrite on tenants`.execute(handle.db);
      await sql`drop trigger backup_test_rewrite on audit_logs`.execute(handle.db);
      await sql`drop function backup_test_rewrite(), backup_test_rewrite_action()`.execute(handle.db);
    }
  });

  test('clear empties every data table and keeps schema_migrations and backups', async () => {
    const backup = await createBackup(handle, { mode: 'full', outDirectory: directory, keys });
    const migrations = await appliedMigrations();
    const backupsBefore = await sql<{ count: number }>`select count(*) as count from backups`.execute(
      handle.db,
    );
    const removed = await clearDatabase(handle);
    try {
      assert.deepEqual(removed, backup.manifest.row_counts, 'clear reports what each table held');
      const after = await snapshotRows(handle.db);
      for (const [table, rows] of Object.entries(after)) assert.equal(rows.length, 0, `${table} is empty`);
      assert.deepEqual(await appliedMigrations(), migrations);
      const backupsAfter = await sql<{ count: number }>`select count(*) as count from backups`.execute(
        handle.db,
      );
      assert.deepEqual(backupsAfter.rows, backupsBefore.rows);
    } finally {
      await restoreBackup(handle, { file: backup.path, keys });
    }
  });
});

describe('a damaged or mismatched backup changes nothing', () => {
  let good: string;
  let current: Record<string, string[]>;

  before(async () => {
    good = (await createBackup(handle, { mode: 'full', outDirectory: directory, keys })).path;
    // The database moves on after the backup, so a restore that ran would visibly change it.
    await sql`insert into tenants (slug, name) values ('after-backup', 'Created after the backup')`.execute(
      handle.db,
    );
    current = await snapshotRows(handle.db);
  });

  async function damagedCopy(name: string): Promise<string> {
    const copy = join(directory, `corebank-damaged-${name}-full.cbk.gz`);
    await copyFile(good, copy);
    const manifest = await readManifest(good);
    await writeFile(manifestPathFor(copy), JSON.stringify(resign({ ...manifest, file: basename(copy) })));
    return copy;
  }

  test('a truncated file is rejected', async () => {
    const copy = await damagedCopy('truncated');
    await truncate(copy, Math.floor((await stat(copy)).size / 2));
    await rejectsWith(restoreBackup(handle, { file: copy, keys }), 'BACKUP_SIZE_MISMATCH', /truncated/);
    assert.deepEqual(await snapshotRows(handle.db), current);
  });

  test('a file with one byte altered is rejected', async () => {
    const copy = await damagedCopy('altered');
    const bytes = await readFile(copy);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = (bytes[middle] ?? 0) ^ 0x01;
    await writeFile(copy, bytes);
    await rejectsWith(restoreBackup(handle, { file: copy, keys }), 'BACKUP_CHECKSUM_MISMATCH', /SHA-256/);
    assert.deepEqual(await snapshotRows(handle.db), current);
  });

  test('a missing manifest or a missing file is rejected', async () => {
    const copy = await damagedCopy('no-manifest');
    await rm(manifestPathFor(copy));
    await rejectsWith(
      restoreBackup(handle, { file: copy, keys }),
      'BACKUP_MANIFEST_MISSING',
      /manifest .* is missing/,
    );
    const orphan = await damagedCopy('no-file');
    await rm(orphan);
    await rejectsWith(restoreBackup(handle, { file: orphan, keys }), 'BACKUP_FILE_MISSING', /does not exist/);
    assert.deepEqual(await snapshotRows(handle.db), current);
  });

  test('a backup whose manifest and header claim another schema version is refused', async () => {
    const future = join(directory, 'corebank-future-full.cbk.gz');
    const addFuture = (target: { migrations: string[]; schema_version: string }) => {
      target.migrations = [...target.migrations, '9999_future'];
      target.schema_version = '9999_future';
    };
    await rewriteBackup(good, future, { header: addFuture, manifest: addFuture });
    await rejectsWith(
      restoreBackup(handle, { file: future, keys }),
      'BACKUP_SCHEMA_MISMATCH',
      /schema version 9999_future .* migrate the database to 9999_future first/,
    );
    assert.deepEqual(await snapshotRows(handle.db), current);
  });

  test('a database behind the backup schema version is refused', async () => {
    const migrations = await appliedMigrations();
    const latest = migrations.at(-1) ?? '';
    await sql`delete from schema_migrations where name = ${latest}`.execute(handle.db);
    try {
      await rejectsWith(
        restoreBackup(handle, { file: good, keys }),
        'BACKUP_SCHEMA_MISMATCH',
        new RegExp(`migrate the database to ${latest} first`),
      );
    } finally {
      await sql`insert into schema_migrations (name, timestamp) values (${latest}, ${new Date().toISOString()})`.execute(
        handle.db,
      );
    }
    assert.deepEqual(await snapshotRows(handle.db), current);
  });

  test('a manifest whose row counts disagree with the rows rolls the whole restore back', async () => {
    const miscounted = join(directory, 'corebank-miscounted-full.cbk.gz');
    await rewriteBackup(good, miscounted, {
      manifest: (manifest) => {
        manifest.row_counts.users = (manifest.row_counts.users ?? 0) + 1;
      },
    });
    await rejectsWith(
      restoreBackup(handle, { file: miscounted, keys }),
      'BACKUP_ROW_COUNT_MISMATCH',
      /users/,
    );
    assert.deepEqual(await snapshotRows(handle.db), current);
  });

  test('a corrupt row line met halfway through the load rolls the whole restore back', async () => {
    const corrupt = join(directory, 'corebank-corrupt-full.cbk.gz');
    const lines: string[] = [];
    for await (const line of readBackupLines(good)) lines.push(line);
    lines.splice(lines.length - 1, 0, '{"table":"tenants","row":{"id":"not-a-uuid"}}');
    await writeFile(corrupt, gzipSync(`${lines.join('\n')}\n`));
    const manifest = await readManifest(good);
    await writeFile(
      manifestPathFor(corrupt),
      JSON.stringify({
        ...manifest,
        file: basename(corrupt),
        sha256: await sha256OfFile(corrupt),
        size_bytes: (await stat(corrupt)).size,
      }),
    );
    await assert.rejects(restoreBackup(handle, { file: corrupt, keys }));
    assert.deepEqual(await snapshotRows(handle.db), current);
  });
});

describe('row-level security', () => {
  const role = `corebank_backup_reader_${process.pid}`;

  /** Runs `work` on a handle connected as a role that can read every table but is subject to RLS. */
  async function asRowSecuredRole(work: (reader: DatabaseHandle) => Promise<void>): Promise<void> {
    await sql`create role ${sql.id(role)}`.execute(handle.db);
    await sql`grant select, truncate on all tables in schema public to ${sql.id(role)}`.execute(handle.db);
    await sql`grant select on all sequences in schema public to ${sql.id(role)}`.execute(handle.db);
    const reader = handle.url ? await openDatabase({ databaseUrl: handle.url, poolMax: 1 }) : handle;
    try {
      await sql`set role ${sql.id(role)}`.execute(reader.db);
      await work(reader);
    } finally {
      await sql`reset role`.execute(reader.db);
      if (reader !== handle) await reader.close();
      await sql`revoke all on all tables in schema public from ${sql.id(role)}`.execute(handle.db);
      await sql`revoke all on all sequences in schema public from ${sql.id(role)}`.execute(handle.db);
      await sql`drop role ${sql.id(role)}`.execute(handle.db);
    }
  }

  test('regression: a user subject to RLS gets an error instead of a backup of one tenant share', async () => {
    const rlsDirectory = await mkdtemp(join(directory, 'rls-'));
    const before = await snapshotRows(handle.db);
    await asRowSecuredRole(async (reader) => {
      await rejectsWith(
        createBackup(reader, { mode: 'full', outDirectory: rlsDirectory, keys }),
        'BACKUP_ROW_SECURITY',
        /BYPASSRLS/,
      );
      await rejectsWith(clearDatabase(reader), 'BACKUP_ROW_SECURITY', /BYPASSRLS/);
    });
    assert.deepEqual(await readdir(rlsDirectory), [], 'no partial file is left behind');
    assert.deepEqual(await snapshotRows(handle.db), before);
  });
});

describe('schema-only backups', () => {
  test('hold no rows, and restoring one on a matching database verifies it and changes no rows', async () => {
    const before = await snapshotRows(handle.db);
    const backup = await createBackup(handle, { mode: 'schema-only', outDirectory: directory, keys });
    assert.deepEqual(backup.manifest.row_counts, {});
    const lines: string[] = [];
    for await (const line of readBackupLines(backup.path)) lines.push(line);
    assert.equal(lines.length, 1, 'only the header line');
    const header = JSON.parse(lines[0] ?? '') as BackupHeader;
    assert.ok(header.catalog?.some((table) => table.name === 'users' && table.columns.length > 10));

    const result = await restoreBackup(handle, { file: backup.path, keys });
    assert.equal(result.rowsRestored, 0);
    assert.deepEqual(await snapshotRows(handle.db), before);
  });

  test('restoring one onto a database whose columns drifted is refused', async () => {
    const backup = await createBackup(handle, { mode: 'schema-only', outDirectory: directory, keys });
    await sql`alter table backup_scratch add column drift integer`.execute(handle.db);
    try {
      await rejectsWith(
        restoreBackup(handle, { file: backup.path, keys }),
        'BACKUP_SCHEMA_MISMATCH',
        /backup_scratch has columns/,
      );
    } finally {
      await sql`alter table backup_scratch drop column drift`.execute(handle.db);
    }
  });
});

describe('listing and pruning backups', () => {
  test('list-backups shows newest first and flags a damaged file', async () => {
    const listDirectory = await mkdtemp(join(directory, 'list-'));
    const oldest = await createBackup(handle, { mode: 'schema-only', outDirectory: listDirectory, keys });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const middle = await createBackup(handle, { mode: 'data-only', outDirectory: listDirectory, keys });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const newest = await createBackup(handle, { mode: 'full', outDirectory: listDirectory, keys });
    await truncate(middle.path, 10);

    const listings = await listBackups(listDirectory, keys);
    assert.deepEqual(
      listings.map((listing) => listing.path),
      [newest.path, middle.path, oldest.path],
    );
    assert.deepEqual(
      listings.map((listing) => [listing.mode, listing.checksumValid, listing.problem === undefined]),
      [
        ['full', true, true],
        ['data-only', false, false],
        ['schema-only', true, true],
      ],
    );
    assert.equal(
      listings[0]?.rowTotal,
      Object.values(newest.manifest.row_counts).reduce((a, b) => a + b, 0),
    );
    assert.deepEqual(await listBackups(join(directory, 'does-not-exist'), keys), []);
  });

  test('prune-backups deletes only backups older than the retention, with their manifests', async () => {
    const pruneDirectory = await mkdtemp(join(directory, 'prune-'));
    const older = await createBackup(handle, { mode: 'schema-only', outDirectory: pruneDirectory, keys });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const newer = await createBackup(handle, { mode: 'schema-only', outDirectory: pruneDirectory, keys });
    await writeFile(join(pruneDirectory, 'notes.txt'), 'not a backup');
    // One day after the newer backup: the older is past a one-day retention, the newer exactly at it.
    const now = new Date(Date.parse(newer.manifest.created_at) + 24 * 60 * 60 * 1000);

    const deleted = await pruneBackups(pruneDirectory, 1, now);
    assert.deepEqual(
      deleted.map((listing) => listing.path),
      [older.path],
    );
    const exists = (path: string) =>
      stat(path).then(
        () => true,
        () => false,
      );
    assert.equal(await exists(older.path), false);
    assert.equal(await exists(older.manifestPath), false);
    assert.equal(await exists(newer.path), true);
    assert.equal(await exists(newer.manifestPath), true);
    assert.equal(await exists(join(pruneDirectory, 'notes.txt')), true);
    assert.deepEqual(await pruneBackups(pruneDirectory, 1, now), []);
  });
});

describe('corebank db commands', () => {
  let opened = 0;
  let closed = 0;

  function program(): Command {
    const runtime: CliRuntime = {
      config: () => ({ ...config, backupDirectory: join(directory, 'cli') }),
      openDatabase: async () => {
        opened += 1;
        // The suite's database outlives each command; count closes instead of closing it.
        return {
          ...handle,
          close: async () => {
            closed += 1;
          },
        };
      },
    };
    const root = new Command('corebank').exitOverride();
    const dbCommand = root.command('db').exitOverride();
    registerBackupCommands(dbCommand, runtime);
    for (const command of dbCommand.commands) command.exitOverride();
    return root;
  }

  async function run(...args: string[]): Promise<void> {
    await program().parseAsync(['db', ...args], { from: 'user' });
  }

  async function rejectsWithCliError(args: string[], message: RegExp): Promise<void> {
    await assert.rejects(run(...args), (error: unknown) => {
      assert.ok(error instanceof CliError, `expected a CliError, got ${String(error)}`);
      assert.match(error.message, message);
      return true;
    });
  }

  test('clear without --yes is refused before the database is opened', async () => {
    const openedBefore = opened;
    await rejectsWithCliError(['clear'], /pass --yes/);
    assert.equal(opened, openedBefore);
  });

  test('backup with both --schema-only and --data-only is refused', async () => {
    await rejectsWithCliError(['backup', '--schema-only', '--data-only'], /exclude each other/);
  });

  test('prune-backups with a bad --days is refused', async () => {
    await rejectsWithCliError(['prune-backups', '--days', '0'], /--days must be a whole number/);
    await rejectsWithCliError(['prune-backups', '--days', 'ten'], /--days must be a whole number/);
  });

  test('backup then restore through the commands, closing the database each time', async () => {
    const before = await snapshotRows(handle.db);
    const [openedBefore, closedBefore] = [opened, closed];
    await run('backup', '--data-only');
    const [listing] = await listBackups(join(directory, 'cli'), keys);
    assert.ok(listing && listing.mode === 'data-only' && listing.checksumValid);
    await run('restore', '--file', listing.path);
    assert.deepEqual(await snapshotRows(handle.db), before);
    assert.equal(opened - openedBefore, 2);
    assert.equal(closed - closedBefore, 2);
  });

  test('restore of a damaged file is a one-line CliError and still closes the database', async () => {
    const [listing] = await listBackups(join(directory, 'cli'), keys);
    assert.ok(listing);
    await truncate(listing.path, 5);
    const closedBefore = closed;
    await rejectsWithCliError(
      ['restore', '--file', listing.path],
      /^backup file .* is 5 bytes .*use another backup$/,
    );
    assert.equal(closed - closedBefore, 1);
  });
});

describe('progress display', () => {
  function capture(isTTY: boolean): { stream: ProgressStream; output: () => string } {
    const chunks: string[] = [];
    const stream = { isTTY, write: (chunk: string) => chunks.push(chunk) > 0 } as unknown as ProgressStream;
    return { stream, output: () => chunks.join('') };
  }

  test('without a terminal it writes a start line, a line per 10% and an end line', () => {
    const { stream, output } = capture(false);
    const progress = createProgress({ label: 'restore rows', total: 200, stream });
    for (let row = 0; row < 200; row += 1) progress.tick(1);
    progress.done();
    progress.tick(5);
    const steps = [10, 20, 30, 40, 50, 60, 70, 80, 90].map(
      (step) => `restore rows: ${step}% (${step * 2}/200)`,
    );
    assert.deepEqual(output().trimEnd().split('\n'), [
      'restore rows: started (200 total)',
      ...steps,
      'restore rows: done (200/200)',
    ]);
  });

  test('on a terminal it redraws one bar in place and ends the line when done', () => {
    const { stream, output } = capture(true);
    const progress = createProgress({ label: 'backup rows', total: 4, stream });
    for (let row = 0; row < 4; row += 1) progress.tick(1);
    progress.done();
    const text = output();
    assert.equal(text.split('\n').length, 2, 'one line, ended once');
    assert.ok(text.endsWith(`\rbackup rows [${'#'.repeat(30)}] 100% 4/4\n`));
    assert.match(text, /\rbackup rows \[#{8}-{22}\] 25% 1\/4/);
  });
});
