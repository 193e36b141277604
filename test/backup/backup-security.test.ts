import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Command } from 'commander';
import { sql } from 'kysely';
import pino from 'pino';
import { registerBackupCommands } from '../../src/cli/commands/backup.command.ts';
import { CliError, type CliRuntime } from '../../src/cli/runtime.ts';
import type { BackupKeys } from '../../src/config/backup-config.ts';
import { loadConfig } from '../../src/config/config.ts';
import { seedDatabase } from '../../src/db/seed/seed.ts';
import { backupJobs } from '../../src/modules/backup/backup.jobs.ts';
import {
  type BackupResult,
  clearDatabase,
  createBackup,
  restoreBackup,
  verifyBackup,
} from '../../src/modules/backup/backup.service.ts';
import {
  manifestPathFor,
  readBackupLines,
  readManifest,
  sha256OfFile,
} from '../../src/modules/backup/backup-format.ts';
import { type BackupManifest, signManifest } from '../../src/modules/backup/backup-manifest.ts';
import { runScheduledBackup } from '../../src/modules/backup/backup-schedule.ts';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';
import { runCommand } from '../helpers/server-process.ts';
import { rejectsWith, snapshotRows } from './backup-fixtures.ts';

const encryptionKeyHex = randomBytes(32).toString('hex');
const config = loadConfig({ NODE_ENV: 'test' });
const plainKeys = config.backup.keys;
const encryptedConfig = loadConfig({
  NODE_ENV: 'test',
  BACKUP_ENCRYPTION_KEY: encryptionKeyHex,
  BACKUP_ENCRYPTION_KEY_ID: 'e-test',
});
const encryptedKeys = encryptedConfig.backup.keys;
// The same key id with another key: what a host configured with the wrong secret holds.
const wrongKeys: BackupKeys = { ...plainKeys, encryption: { id: 'e-test', key: randomBytes(32) } };

let handle: TestDatabase;
let directory: string;

before(async () => {
  handle = await openTestDatabase();
  directory = await mkdtemp(join(tmpdir(), 'corebank-backup-security-'));
  await seedDatabase(handle, config);
});

after(async () => {
  await handle?.close();
  if (directory) await rm(directory, { recursive: true, force: true });
});

function fileMode(path: string): Promise<number> {
  return stat(path).then((found) => found.mode & 0o777);
}

/** Copies a backup's file and manifest under another name, the manifest re-signed for the new name. */
async function copyBackup(backup: BackupResult, name: string): Promise<string> {
  const suffix = backup.manifest.encryption ? '.cbk.gz.enc' : '.cbk.gz';
  const copy = join(directory, `corebank-${name}-full${suffix}`);
  await copyFile(backup.path, copy);
  const { mac: _mac, ...unsigned } = backup.manifest;
  await writeFile(
    manifestPathFor(copy),
    JSON.stringify(signManifest({ ...unsigned, file: basename(copy) }, plainKeys.manifest)),
  );
  return copy;
}

/** Changes a tenant's name inside a plaintext backup: the rows are plausible, only the content differs. */
async function alterRows(file: string): Promise<void> {
  const lines: string[] = [];
  for await (const line of readBackupLines(file)) lines.push(line);
  const index = lines.findIndex((line) => line.startsWith('{"table":"tenants"'));
  assert.ok(index > 0, 'the backup holds tenant rows');
  lines[index] = (lines[index] ?? '').replace(/"name":"[^"]*"/, '"name":"Altered tenant"');
  await writeFile(file, gzipSync(`${lines.join('\n')}\n`));
}

/** The checksum and size recomputed over the altered file, the MAC left as it was: no key needed. */
async function recomputeChecksum(file: string): Promise<void> {
  const manifest = (await readManifest(file)) as BackupManifest;
  manifest.sha256 = await sha256OfFile(file);
  manifest.size_bytes = (await stat(file)).size;
  await writeFile(manifestPathFor(file), JSON.stringify(manifest));
}

describe('backup files are readable by their owner only', () => {
  test('the backup file and its manifest are 0600, and a directory it creates 0700', async () => {
    const outDirectory = join(directory, 'created-by-backup', 'nested');
    for (const keys of [plainKeys, encryptedKeys]) {
      const backup = await createBackup(handle, { mode: 'schema-only', outDirectory, keys });
      assert.equal(await fileMode(backup.path), 0o600, basename(backup.path));
      assert.equal(await fileMode(backup.manifestPath), 0o600, basename(backup.manifestPath));
    }
    assert.equal(await fileMode(outDirectory), 0o700);
    assert.equal(await fileMode(join(directory, 'created-by-backup')), 0o700);
  });
});

describe('encrypted backups', () => {
  let backup: BackupResult;
  let current: Record<string, string[]>;

  before(async () => {
    backup = await createBackup(handle, { mode: 'full', outDirectory: directory, keys: encryptedKeys });
    current = await snapshotRows(handle.db);
  });

  test('are AES-256-GCM files, not gzip, with the key id in the signed manifest', async () => {
    assert.match(basename(backup.path), /-full\.cbk\.gz\.enc$/);
    const bytes = await readFile(backup.path);
    assert.equal(bytes.subarray(0, 8).toString('ascii'), 'CBKAES1\n');
    assert.ok(!bytes.includes(Buffer.from('"table":"tenants"')), 'no row is readable in the file');
    assert.equal(backup.manifest.encryption?.algorithm, 'aes-256-gcm');
    assert.equal(backup.manifest.encryption?.key_id, 'e-test');
    assert.equal(backup.manifest.sha256, await sha256OfFile(backup.path));
    assert.deepEqual(await readManifest(backup.path), backup.manifest);
  });

  test('restore with the key gives back every row', async () => {
    await clearDatabase(handle);
    const restored = await restoreBackup(handle, { file: backup.path, keys: encryptedKeys });
    assert.equal(restored.rowsRestored, Object.values(current).flat().length);
    assert.deepEqual(await snapshotRows(handle.db), current);
  });

  test('restore and verify-backup without the key are refused before the database changes', async () => {
    await sql`insert into tenants (slug, name) values ('after-encrypted', 'After the backup')`.execute(
      handle.db,
    );
    const moved = await snapshotRows(handle.db);
    await rejectsWith(
      restoreBackup(handle, { file: backup.path, keys: plainKeys }),
      'BACKUP_KEY_MISSING',
      /encrypted with key id e-test; set BACKUP_ENCRYPTION_KEY/,
    );
    await rejectsWith(verifyBackup(backup.path, plainKeys), 'BACKUP_KEY_MISSING', /BACKUP_ENCRYPTION_KEY/);
    assert.deepEqual(await snapshotRows(handle.db), moved);
  });

  test('restore and verify-backup with a wrong key are refused before the database changes', async () => {
    const moved = await snapshotRows(handle.db);
    await rejectsWith(
      restoreBackup(handle, { file: backup.path, keys: wrongKeys }),
      'BACKUP_KEY_MISMATCH',
      /not with the configured BACKUP_ENCRYPTION_KEY/,
    );
    await rejectsWith(verifyBackup(backup.path, wrongKeys), 'BACKUP_KEY_MISMATCH', /key id e-test/);
    assert.deepEqual(await snapshotRows(handle.db), moved);
  });

  test('a ciphertext altered under a re-signed manifest fails authentication and rolls back', async () => {
    // Someone holding the manifest key (not the encryption key) re-signs over an altered file.
    const copy = await copyBackup(backup, 'ciphertext-altered');
    const bytes = await readFile(copy);
    // The tag's last byte: the plaintext stays intact, so only authentication can notice.
    const index = bytes.length - 1;
    bytes[index] = (bytes[index] ?? 0) ^ 0x01;
    await writeFile(copy, bytes);
    const manifest = await readManifest(copy);
    const { mac: _mac, ...unsigned } = { ...manifest, sha256: await sha256OfFile(copy) };
    await writeFile(manifestPathFor(copy), JSON.stringify(signManifest(unsigned, plainKeys.manifest)));
    const moved = await snapshotRows(handle.db);
    await rejectsWith(verifyBackup(copy, encryptedKeys), 'BACKUP_DECRYPTION_FAILED', /does not authenticate/);
    await rejectsWith(
      restoreBackup(handle, { file: copy, keys: encryptedKeys }),
      'BACKUP_DECRYPTION_FAILED',
      /does not authenticate/,
    );
    assert.deepEqual(await snapshotRows(handle.db), moved);
  });
});

describe('signed manifests', () => {
  let backup: BackupResult;
  let current: Record<string, string[]>;

  before(async () => {
    backup = await createBackup(handle, { mode: 'full', outDirectory: directory, keys: plainKeys });
    await sql`insert into tenants (slug, name) values ('after-signed', 'After the backup')`.execute(
      handle.db,
    );
    current = await snapshotRows(handle.db);
  });

  test('verify-backup passes on a good file, plaintext or encrypted, counting every row', async () => {
    const result = await verifyBackup(backup.path, plainKeys);
    const rowTotal = Object.values(backup.manifest.row_counts).reduce((sum, count) => sum + count, 0);
    assert.equal(result.rowsChecked, rowTotal);
    assert.ok(rowTotal > 0);
    const encrypted = await createBackup(handle, {
      mode: 'data-only',
      outDirectory: directory,
      keys: encryptedKeys,
    });
    assert.equal((await verifyBackup(encrypted.path, encryptedKeys)).manifest.encryption?.key_id, 'e-test');
  });

  test('regression: an altered file with a recomputed checksum is refused by restore and verify-backup', async () => {
    const copy = await copyBackup(backup, 'rows-altered');
    await alterRows(copy);
    await recomputeChecksum(copy);
    // The unkeyed checksum alone would now pass: the file matches its manifest's sha256 and size.
    assert.equal((await readManifest(copy)).sha256, await sha256OfFile(copy));
    await rejectsWith(
      restoreBackup(handle, { file: copy, keys: plainKeys }),
      'BACKUP_MANIFEST_SIGNATURE_INVALID',
      /does not match its signature/,
    );
    await rejectsWith(verifyBackup(copy, plainKeys), 'BACKUP_MANIFEST_SIGNATURE_INVALID', /signature/);
    assert.deepEqual(await snapshotRows(handle.db), current);
  });

  test('a manifest signed under another key, or a version 1 manifest without a MAC, is refused', async () => {
    const otherKey = loadConfig({ NODE_ENV: 'test', BACKUP_MANIFEST_KEY: randomBytes(32).toString('hex') });
    assert.equal(otherKey.backup.keys.manifest.id, 'm1');
    await rejectsWith(
      verifyBackup(backup.path, otherKey.backup.keys),
      'BACKUP_MANIFEST_SIGNATURE_INVALID',
      /signed with manifest key id audit:k1, but the configured key is m1/,
    );
    const copy = await copyBackup(backup, 'version-one');
    const { mac: _mac, encryption: _encryption, ...legacy } = await readManifest(copy);
    await writeFile(manifestPathFor(copy), JSON.stringify({ ...legacy, format_version: 1 }));
    await rejectsWith(
      restoreBackup(handle, { file: copy, keys: plainKeys }),
      'BACKUP_MANIFEST_INVALID',
      /format_version, encryption, mac/,
    );
    assert.deepEqual(await snapshotRows(handle.db), current);
  });

  test('verify-backup reads to the end: row counts that disagree with the rows are refused', async () => {
    const copy = await copyBackup(backup, 'counts-differ');
    const manifest = await readManifest(copy);
    const { mac: _mac, ...unsigned } = manifest;
    unsigned.row_counts = { ...unsigned.row_counts, tenants: (unsigned.row_counts.tenants ?? 0) + 1 };
    await writeFile(manifestPathFor(copy), JSON.stringify(signManifest(unsigned, plainKeys.manifest)));
    await rejectsWith(verifyBackup(copy, plainKeys), 'BACKUP_ROW_COUNT_MISMATCH', /rows of tenants/);
  });
});

describe('scheduled backups', () => {
  const logger = pino({ level: 'silent' });

  function scheduleConfig(scheduleDirectory: string, enabled: boolean) {
    return loadConfig({
      NODE_ENV: 'test',
      BACKUP_ENABLED: String(enabled),
      BACKUP_DIR: scheduleDirectory,
      BACKUP_INTERVAL_MS: '3600000',
      BACKUP_RETENTION_DAYS: '2',
      BACKUP_ENCRYPTION_KEY: encryptionKeyHex,
      BACKUP_ENCRYPTION_KEY_ID: 'e-test',
    });
  }

  async function ageRecordedBackups(): Promise<void> {
    await sql`update backups set created_at = created_at - interval '10 days'`.execute(handle.db);
  }

  async function backupFiles(scheduleDirectory: string): Promise<string[]> {
    return (await readdir(scheduleDirectory)).filter((name) => name.endsWith('.enc')).sort();
  }

  test('off unless BACKUP_ENABLED; on, a run writes an encrypted full backup and prunes by retention', async () => {
    const scheduleDirectory = join(directory, 'scheduled');
    assert.deepEqual(backupJobs(handle, scheduleConfig(scheduleDirectory, false), logger), []);
    const on = scheduleConfig(scheduleDirectory, true);
    const [job] = backupJobs(handle, on, logger);
    assert.equal(job?.name, 'backup');
    assert.equal(job?.intervalMs, 60_000, 'checks every minute whether a backup is due');

    // A backup three days old: past the two-day retention.
    const old = await createBackup(handle, {
      mode: 'schema-only',
      outDirectory: scheduleDirectory,
      keys: on.backup.keys,
    });
    const { mac: _mac, ...unsigned } = old.manifest;
    const threeDaysAgo = new Date(Date.now() - 3 * 24 * 3600 * 1000).toISOString();
    await writeFile(
      old.manifestPath,
      JSON.stringify(signManifest({ ...unsigned, created_at: threeDaysAgo }, on.backup.keys.manifest)),
    );
    await ageRecordedBackups();

    await job?.run();
    const files = await backupFiles(scheduleDirectory);
    assert.equal(files.length, 1, files.join(', '));
    assert.match(files[0] ?? '', /-full\.cbk\.gz\.enc$/);
    assert.ok(!files.includes(basename(old.path)), 'the expired backup was pruned');
    const written = join(scheduleDirectory, files[0] ?? '');
    assert.equal(await fileMode(written), 0o600);
    assert.equal((await verifyBackup(written, on.backup.keys)).manifest.mode, 'full');

    // The next check, within the interval of that backup, takes none; once it is due, one more.
    await job?.run();
    assert.deepEqual(await backupFiles(scheduleDirectory), files);
    await sql`update backups set created_at = created_at - interval '59 minutes'`.execute(handle.db);
    await job?.run();
    assert.deepEqual(await backupFiles(scheduleDirectory), files, 'still a minute before it is due');
    await sql`update backups set created_at = created_at - interval '2 minutes'`.execute(handle.db);
    await job?.run();
    assert.equal((await backupFiles(scheduleDirectory)).length, 2);
  });

  test(`two servers running the schedule at once take one backup (${testEngine})`, async () => {
    const scheduleDirectory = join(directory, 'scheduled-twice');
    const on = scheduleConfig(scheduleDirectory, true);
    await ageRecordedBackups();
    const options = {
      directory: scheduleDirectory,
      intervalMs: on.backup.intervalMs,
      retentionDays: on.backupRetentionDays,
      keys: on.backup.keys,
    };
    const results = await Promise.all([
      runScheduledBackup(handle, options),
      runScheduledBackup(handle, options),
    ]);
    const statuses = results.map((result) => result.status).sort();
    assert.equal(statuses.filter((status) => status === 'written').length, 1, statuses.join(', '));
    assert.equal((await backupFiles(scheduleDirectory)).length, 1);
  });
});

describe('corebank db verify-backup', () => {
  function program(keysConfig = encryptedConfig): Command {
    const runtime: CliRuntime = {
      config: () => keysConfig,
      openDatabase: async () => {
        throw new Error('verify-backup must not open the database');
      },
    };
    const root = new Command('corebank').exitOverride();
    const dbCommand = root.command('db').exitOverride();
    registerBackupCommands(dbCommand, runtime);
    for (const command of dbCommand.commands) command.exitOverride();
    return root;
  }

  test('verifies a good encrypted file without the database and refuses one without its key', async () => {
    const backup = await createBackup(handle, { mode: 'full', outDirectory: directory, keys: encryptedKeys });
    const written: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stdout.write;
    try {
      await program().parseAsync(['db', 'verify-backup', '--file', backup.path], { from: 'user' });
    } finally {
      process.stdout.write = original;
    }
    assert.match(written.join(''), /^verified .*: mode full, \d+ rows in \d+ tables/);
    assert.match(written.join(''), /encrypted \(AES-256-GCM, key id e-test\)/);
    await assert.rejects(
      program(config).parseAsync(['db', 'verify-backup', '--file', backup.path], { from: 'user' }),
      (error: unknown) => error instanceof CliError && /set BACKUP_ENCRYPTION_KEY/.test(error.message),
    );
  });

  test('restore of an encrypted backup without its key, or with a wrong one, is a one-line CliError', async () => {
    const backup = await createBackup(handle, {
      mode: 'data-only',
      outDirectory: directory,
      keys: encryptedKeys,
    });
    const before = await snapshotRows(handle.db);
    const withDatabase = (keysConfig: typeof config): Command => {
      const root = new Command('corebank').exitOverride();
      const dbCommand = root.command('db').exitOverride();
      const runtime: CliRuntime = {
        config: () => keysConfig,
        openDatabase: async () => ({ ...handle, close: async () => undefined }),
      };
      registerBackupCommands(dbCommand, runtime);
      for (const command of dbCommand.commands) command.exitOverride();
      return root;
    };
    const wrongConfig = { ...encryptedConfig, backup: { ...encryptedConfig.backup, keys: wrongKeys } };
    for (const [keysConfig, message] of [
      [config, /^backup .* is encrypted with key id e-test; set BACKUP_ENCRYPTION_KEY to that key$/],
      [wrongConfig, /^backup .* not with the configured BACKUP_ENCRYPTION_KEY \(key id e-test\)/],
    ] as const) {
      await assert.rejects(
        withDatabase(keysConfig).parseAsync(['db', 'restore', '--file', backup.path], { from: 'user' }),
        (error: unknown) =>
          error instanceof CliError &&
          error.exitCode === 1 &&
          message.test(error.message) &&
          !error.message.includes('\n'),
      );
    }
    assert.deepEqual(await snapshotRows(handle.db), before);
  });

  test('as a command: --help, a one-line error and exit 1 on a tampered backup', async () => {
    const help = await runCommand(['db', 'verify-backup', '--help'], {
      NODE_ENV: 'test',
      HOME: process.env.HOME,
    });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /without restoring it/);
    assert.match(help.stdout, /--file <path>/);

    const backup = await createBackup(handle, {
      mode: 'data-only',
      outDirectory: directory,
      keys: plainKeys,
    });
    const copy = await copyBackup(backup, 'cli-tampered');
    await alterRows(copy);
    await recomputeChecksum(copy);
    const environment = { NODE_ENV: 'test', HOME: process.env.HOME };
    const refused = await runCommand(['db', 'verify-backup', '--file', copy], environment);
    assert.equal(refused.code, 1, refused.stderr);
    const errors = refused.stderr.trim().split('\n');
    assert.equal(errors.length, 1, refused.stderr);
    assert.match(errors[0] ?? '', /does not match its signature/);
    const good = await runCommand(['db', 'verify-backup', '--file', backup.path], environment);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /^verified /);
  });
});
