import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { loadConfig } from '../../src/config/config.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrator.ts';
import type { Database } from '../../src/db/schema.ts';
import { seedDatabase } from '../../src/db/seed/seed.ts';
import { canonicalRowSql, computeRowHash, signRowHash } from '../../src/platform/audit/audit-hash.ts';
import { openTestDatabase, testEngine } from '../helpers/database.ts';
import { productionSecrets } from '../helpers/production-environment.ts';
import { type Finished, runCommand } from '../helpers/server-process.ts';

const config = loadConfig({ NODE_ENV: 'test' });

/**
 * A seeded database the `corebank` command can open: on PostgreSQL a copy reached by DATABASE_URL; on
 * PGlite a data directory on disk, which one process at a time may hold, so the test opens it only
 * around its own (superuser) statements and closes it before every command.
 */
interface CommandDatabase {
  environment: Record<string, string>;
  use<T>(work: (db: Kysely<Database>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

async function seededCommandDatabase(): Promise<CommandDatabase> {
  if (testEngine === 'postgres') {
    const handle = await openTestDatabase();
    await seedDatabase(handle, config);
    return {
      environment: { DATABASE_URL: handle.url ?? '' },
      use: (work) => work(handle.db),
      close: () => handle.close(),
    };
  }
  const directory = await mkdtemp(join(tmpdir(), 'corebank-checkpoint-db-'));
  const open = () => openDatabase({ dataDirectory: directory, holder: 'audit-checkpoint test' });
  const seeding: DatabaseHandle = await open();
  try {
    await migrateToLatest(seeding.db);
    await seedDatabase(seeding, config);
  } finally {
    await seeding.close();
  }
  return {
    environment: { DATA_DIR: directory },
    use: async (work) => {
      const handle = await open();
      try {
        return await work(handle.db);
      } finally {
        await handle.close();
      }
    },
    close: () => rm(directory, { recursive: true, force: true }),
  };
}

function corebank(database: CommandDatabase, ...args: string[]): Promise<Finished> {
  return runCommand(args, { NODE_ENV: 'test', HOME: process.env.HOME, ...database.environment });
}

interface Head {
  tenantId: string;
  sequence: number;
}

async function defaultTenantHead(db: Kysely<Database>): Promise<Head> {
  const head = await sql<{ tenant_id: string; last_sequence: number }>`
    select h.tenant_id, h.last_sequence from audit_chain_heads h
    join tenants t on t.id = h.tenant_id where t.slug = 'default'`.execute(db);
  const row = head.rows[0];
  assert.ok(row, 'the seed seals audit rows of the default tenant');
  return { tenantId: row.tenant_id, sequence: Number(row.last_sequence) };
}

/** Statements as a superuser with every trigger off: what an attacker holding the database could run. */
async function asSuperuser(db: Kysely<Database>, statements: string[]): Promise<void> {
  await db.transaction().execute(async (transaction) => {
    await sql`set local session_replication_role = replica`.execute(transaction);
    for (const statement of statements) await sql.raw(statement).execute(transaction);
  });
}

/**
 * Rewrites the row at `fromSequence` and re-chains every row after it with the HMAC key, head included:
 * a superuser who also holds AUDIT_HMAC_KEY leaves a chain that verifies against itself.
 */
async function rewriteAndRechain(db: Kysely<Database>, head: Head, fromSequence: number): Promise<void> {
  const { tenantId } = head;
  await db.transaction().execute(async (transaction) => {
    await sql`set local session_replication_role = replica`.execute(transaction);
    await sql`select set_config('TimeZone', 'UTC', true)`.execute(transaction);
    await sql`update audit_logs set action = 'DELETE'
              where tenant_id = ${tenantId} and chain_sequence = ${fromSequence}`.execute(transaction);
    const previous = await sql<{ row_hash: string }>`
      select row_hash from audit_logs
      where tenant_id = ${tenantId} and chain_sequence = ${fromSequence - 1}`.execute(transaction);
    let previousHash = previous.rows[0]?.row_hash ?? '';
    const rows = await sql<{ id: string; chain_sequence: number; canonical: string }>`
      select a.id, a.chain_sequence, ${sql.raw(canonicalRowSql)} as canonical from audit_logs a
      where a.tenant_id = ${tenantId} and a.chain_sequence >= ${fromSequence}
      order by a.chain_sequence`.execute(transaction);
    for (const row of rows.rows) {
      const rowHash = computeRowHash(previousHash, Number(row.chain_sequence), row.canonical);
      await sql`update audit_logs set previous_hash = ${previousHash}, row_hash = ${rowHash},
                signature = ${signRowHash(config.auditHmacKey, rowHash)} where id = ${row.id}`.execute(
        transaction,
      );
      previousHash = rowHash;
    }
    await sql`update audit_chain_heads set last_hash = ${previousHash} where tenant_id = ${tenantId}`.execute(
      transaction,
    );
  });
}

function assertOneErrorLine(finished: Finished, pattern: RegExp): void {
  assert.equal(finished.code, 1, finished.stderr);
  const errors = finished.stderr.split('\n').filter((line) => line.startsWith('corebank:'));
  assert.equal(errors.length, 1, finished.stderr);
  assert.match(errors[0] ?? '', pattern);
}

async function checkpointFiles(directory: string): Promise<string[]> {
  return (await readdir(directory)).filter((name) => name.endsWith('.checkpoint')).sort();
}

describe(`corebank audit checkpoint (${testEngine})`, () => {
  let database: CommandDatabase;
  let scratch: string;
  let directory: string;
  let head: Head;

  before(async () => {
    database = await seededCommandDatabase();
    scratch = await mkdtemp(join(tmpdir(), 'corebank-checkpoints-'));
    directory = join(scratch, 'checkpoints');
    head = await database.use(defaultTenantHead);
  });
  after(async () => {
    await database.close();
    await rm(scratch, { recursive: true, force: true });
  });

  test('--help describes checkpoint, checkpoint-key and verify --checkpoints', async () => {
    const checkpoint = await corebank(database, 'audit', 'checkpoint', '--help');
    assert.equal(checkpoint.code, 0);
    assert.match(checkpoint.stdout, /--dir <dir>/);
    const verify = await corebank(database, 'audit', 'verify', '--help');
    assert.equal(verify.code, 0);
    assert.match(verify.stdout, /--checkpoints <dir>/);
    const key = await corebank(database, 'audit', 'checkpoint-key', '--help');
    assert.equal(key.code, 0);
  });

  test('checkpoint writes one private file per tenant, then verify --checkpoints is OK', async () => {
    const written = await corebank(database, 'audit', 'checkpoint', '--dir', directory);
    assert.equal(written.code, 0, written.stderr);
    assert.match(written.stdout, /^Wrote 1 checkpoints into /);
    const expected = `${head.tenantId}-${head.sequence}.checkpoint`;
    assert.match(written.stderr, new RegExp(`wrote ${expected}`));
    assert.deepEqual(await checkpointFiles(directory), [expected]);
    assert.equal((await stat(directory)).mode & 0o777, 0o700);
    assert.equal((await stat(join(directory, expected))).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(directory), [expected], 'no temporary file is left behind');

    const again = await corebank(database, 'audit', 'checkpoint', '--dir', directory);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^Wrote 0 checkpoints .*1 tenants unchanged/);
    assert.deepEqual(
      await checkpointFiles(directory),
      [expected],
      'an unmoved head is not checkpointed again',
    );

    const verified = await corebank(database, 'audit', 'verify', '--checkpoints', directory);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, new RegExp(`^OK: ${head.sequence} sealed rows .*; 1 checkpoints verified`));
    assert.match(verified.stderr, /verified 1 checkpoints/);
  });

  test('a checkpoint file with one byte changed is reported as badly signed, by name', async () => {
    const tampered = join(scratch, 'tampered');
    await cp(directory, tampered, { recursive: true });
    const [name = ''] = await checkpointFiles(tampered);
    const text = await readFile(join(tampered, name), 'utf8');
    // The last digit of the time line, still a well-formed checkpoint.
    const at = text.indexOf('Z\n') - 1;
    const digit = text[at] === '1' ? '2' : '1';
    await writeFile(join(tampered, name), `${text.slice(0, at)}${digit}${text.slice(at + 1)}`);
    const verified = await corebank(database, 'audit', 'verify', '--checkpoints', tampered);
    assertOneErrorLine(
      verified,
      new RegExp(
        `checkpoint ${name} \\(tenant ${head.tenantId}, sequence ${head.sequence}\\) .*\\(bad_signature\\)`,
      ),
    );
  });

  test('a third party verifies a checkpoint with openssl and the printed public key', {
    skip: spawnSync('openssl', ['version']).status !== 0 ? 'openssl is not installed' : false,
  }, async () => {
    const key = await corebank(database, 'audit', 'checkpoint-key');
    assert.equal(key.code, 0, key.stderr);
    assert.match(key.stdout, /^-----BEGIN PUBLIC KEY-----\n/);
    assert.doesNotMatch(key.stdout, /PRIVATE/);
    await writeFile(join(scratch, 'checkpoint.pub'), key.stdout);
    const [name = ''] = await checkpointFiles(directory);
    // The recipe of docs/operations.md, word for word.
    const recipe = (file: string) =>
      spawnSync(
        'sh',
        [
          '-c',
          `head -n 4 "$1" > body && tail -n 1 "$1" | cut -d' ' -f3 | base64 -d > signature &&
           openssl pkeyutl -verify -pubin -inkey checkpoint.pub -rawin -in body -sigfile signature`,
          'sh',
          file,
        ],
        { cwd: scratch, encoding: 'utf8' },
      );
    const good = recipe(join(directory, name));
    assert.equal(good.status, 0, good.stderr);
    assert.match(good.stdout, /Signature Verified Successfully/);
    const bad = recipe(join(scratch, 'tampered', name));
    assert.notEqual(bad.status, 0, 'openssl refuses the tampered copy');
  });

  test('regression (issue 11.3): deleting the newest 3 audit rows with triggers off and rewinding audit_chain_heads left `audit verify` printing OK', async () => {
    const fourthNewest = head.sequence - 3;
    await database.use((db) =>
      asSuperuser(db, [
        `delete from audit_logs where tenant_id = '${head.tenantId}' and chain_sequence > ${fourthNewest}`,
        `update audit_chain_heads set last_sequence = ${fourthNewest},
           last_hash = (select row_hash from audit_logs
                        where tenant_id = '${head.tenantId}' and chain_sequence = ${fourthNewest})
         where tenant_id = '${head.tenantId}'`,
      ]),
    );
    const chainAlone = await corebank(database, 'audit', 'verify');
    assert.equal(chainAlone.code, 0, 'the chain alone cannot tell: this is why checkpoints exist');
    assert.match(chainAlone.stdout, new RegExp(`^OK: ${fourthNewest} sealed rows`));

    const verified = await corebank(database, 'audit', 'verify', '--checkpoints', directory);
    assertOneErrorLine(
      verified,
      new RegExp(
        `checkpoint ${head.tenantId}-${head.sequence}\\.checkpoint \\(tenant ${head.tenantId}, sequence ${head.sequence}\\) no longer matches \\(missing\\): no sealed row at this sequence \\(the chain head is at ${fourthNewest}\\)`,
      ),
    );

    const refused = await corebank(database, 'audit', 'checkpoint', '--dir', directory);
    assertOneErrorLine(refused, /refused to checkpoint: checkpoint .* \(missing\)/);
    assert.equal((await checkpointFiles(directory)).length, 1, 'the rewound head is not signed over');
  });
});

describe(`corebank audit verify --checkpoints against a rewritten chain (${testEngine})`, () => {
  let database: CommandDatabase;
  let directory: string;
  let head: Head;

  before(async () => {
    database = await seededCommandDatabase();
    directory = await mkdtemp(join(tmpdir(), 'corebank-checkpoints-'));
    head = await database.use(defaultTenantHead);
  });
  after(async () => {
    await database.close();
    await rm(directory, { recursive: true, force: true });
  });

  test('a row rewritten and the chain re-hashed with the HMAC key is caught at the checkpointed sequence', async () => {
    const written = await corebank(database, 'audit', 'checkpoint', '--dir', directory);
    assert.equal(written.code, 0, written.stderr);
    await database.use((db) => rewriteAndRechain(db, head, head.sequence - 1));

    const chainAlone = await corebank(database, 'audit', 'verify');
    assert.equal(chainAlone.code, 0, `the re-hashed chain verifies against itself: ${chainAlone.stderr}`);

    const verified = await corebank(database, 'audit', 'verify', '--checkpoints', directory);
    assertOneErrorLine(
      verified,
      new RegExp(
        `checkpoint ${head.tenantId}-${head.sequence}\\.checkpoint \\(tenant ${head.tenantId}, sequence ${head.sequence}\\) no longer matches \\(altered\\)`,
      ),
    );
  });

  test('a missing checkpoint directory, or one that cannot be created, is one line and exit 1', async () => {
    const verified = await corebank(database, 'audit', 'verify', '--checkpoints', join(directory, 'absent'));
    assertOneErrorLine(verified, /cannot read the checkpoint directory .*absent \(ENOENT\)/);
    const blocker = join(directory, 'a-file');
    await writeFile(blocker, 'not a directory');
    const written = await corebank(database, 'audit', 'checkpoint', '--dir', join(blocker, 'below'));
    assertOneErrorLine(written, /cannot write checkpoints into .*a-file\/below \(ENOTDIR\)/);
  });
});

describe('audit checkpoint keys in configuration', () => {
  test('production without AUDIT_CHECKPOINT_SIGNING_KEY is refused, naming the variable and no secret', async () => {
    const secrets = productionSecrets();
    const { AUDIT_CHECKPOINT_SIGNING_KEY: _removed, ...withoutKey } = secrets;
    assert.throws(() => loadConfig(withoutKey), /AUDIT_CHECKPOINT_SIGNING_KEY is required in production/);
    const refused = await runCommand(['audit', 'checkpoint'], {
      ...withoutKey,
      DATABASE_URL: 'postgres://x@127.0.0.1:1/x',
    });
    assertOneErrorLine(refused, /AUDIT_CHECKPOINT_SIGNING_KEY is required in production/);
    for (const value of Object.values(withoutKey)) {
      if (value.length > 20) assert.ok(!refused.stderr.includes(value), 'no secret is printed');
    }
    // A host that only verifies turns the schedule off and needs no private key.
    const verifying = loadConfig({ ...withoutKey, AUDIT_CHECKPOINT_INTERVAL_MS: '0' });
    assert.equal(verifying.auditCheckpoint.signingKey, undefined);
    assert.equal(loadConfig(secrets).auditCheckpoint.intervalMs, 3_600_000, 'on by default in production');
  });

  test('an openssl-style PKCS#8 key signs, its public key comes first, retired public keys join it, and no private key passes as public', () => {
    const pair = generateKeyPairSync('ed25519');
    const pem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const spki = (key: { export(options: object): Buffer | string } | undefined) =>
      key?.export({ format: 'der', type: 'spki' });
    const loaded = loadConfig({
      NODE_ENV: 'test',
      AUDIT_CHECKPOINT_SIGNING_KEY: pem.replaceAll('\n', '\\n'),
    });
    assert.deepEqual(loaded.auditCheckpoint.publicKeys.map(spki), [spki(pair.publicKey)]);
    const retired = generateKeyPairSync('ed25519').publicKey;
    const retiredPem = retired.export({ format: 'pem', type: 'spki' }).toString();
    const ownPem = pair.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const rotated = loadConfig({
      NODE_ENV: 'test',
      AUDIT_CHECKPOINT_SIGNING_KEY: pem,
      AUDIT_CHECKPOINT_PUBLIC_KEY: `${ownPem}${retiredPem}`,
    });
    assert.deepEqual(
      rotated.auditCheckpoint.publicKeys.map(spki),
      [spki(pair.publicKey), spki(retired)],
      'the signing key first, each key once',
    );
    const verifyingHost = loadConfig({ NODE_ENV: 'development', AUDIT_CHECKPOINT_PUBLIC_KEY: retiredPem });
    assert.equal(
      verifyingHost.auditCheckpoint.signingKey,
      undefined,
      'no development key beside public keys',
    );
    assert.deepEqual(verifyingHost.auditCheckpoint.publicKeys.map(spki), [spki(retired)]);
    assert.throws(
      () => loadConfig({ NODE_ENV: 'test', AUDIT_CHECKPOINT_PUBLIC_KEY: pem }),
      /AUDIT_CHECKPOINT_PUBLIC_KEY must hold public keys only/,
      'a private key in the public setting is refused',
    );
    assert.throws(
      () => loadConfig({ NODE_ENV: 'test', AUDIT_CHECKPOINT_PUBLIC_KEY: 'not a key' }),
      /AUDIT_CHECKPOINT_PUBLIC_KEY must be 1 to 10 SPKI PEM public keys/,
    );
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    assert.throws(
      () =>
        loadConfig({
          NODE_ENV: 'test',
          AUDIT_CHECKPOINT_SIGNING_KEY: rsa.export({ format: 'pem', type: 'pkcs8' }).toString(),
        }),
      /AUDIT_CHECKPOINT_SIGNING_KEY must be an Ed25519 private key/,
    );
    assert.throws(
      () => loadConfig({ NODE_ENV: 'test', AUDIT_CHECKPOINT_INTERVAL_MS: '10' }),
      /AUDIT_CHECKPOINT_INTERVAL_MS must be 0 \(off\) or at least 1000/,
    );
  });
});
