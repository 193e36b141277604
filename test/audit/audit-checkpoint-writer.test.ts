import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import pino from 'pino';
import { loadConfig } from '../../src/config/config.ts';
import { ensureTenant } from '../../src/db/seed/seed.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { auditCheckpointJobs } from '../../src/platform/audit/audit-checkpoint.jobs.ts';
import {
  type CheckpointKeys,
  verifyAuditCheckpoints,
  writeAuditCheckpoints,
} from '../../src/platform/audit/audit-checkpoint.ts';
import { parseCheckpoint } from '../../src/platform/audit/audit-checkpoint-format.ts';
import { sealPendingAudits } from '../../src/platform/audit/audit-sealer.ts';
import { recordAudit } from '../../src/platform/audit/audit-trail.ts';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';

const config = loadConfig({ NODE_ENV: 'test' });
const keys: CheckpointKeys = {
  keyName: config.auditCheckpoint.keyName,
  signingKey: config.auditCheckpoint.signingKey,
  publicKeys: config.auditCheckpoint.publicKeys,
};

async function writeAndSeal(database: TestDatabase, tenantId: string, count: number): Promise<void> {
  for (let index = 0; index < count; index += 1) {
    await withScope(database.db, { tenantId }, (transaction) =>
      recordAudit(
        transaction,
        { tenantId, requestId: `r-${index}`, ipAddress: '192.0.2.1' },
        { entityType: 'config', entityId: `key-${index}`, action: 'UPDATE', newValues: { value: index } },
      ),
    );
  }
  while (
    (await sealPendingAudits(database.db, { key: config.auditHmacKey, keyId: config.auditHmacKeyId })) > 0
  ) {
    // Sealing runs in batches until nothing is pending.
  }
}

async function truncateTo(database: TestDatabase, tenantId: string, sequence: number): Promise<void> {
  await database.db.transaction().execute(async (transaction) => {
    await sql`set local session_replication_role = replica`.execute(transaction);
    await sql`delete from audit_logs where tenant_id = ${tenantId} and chain_sequence > ${sequence}`.execute(
      transaction,
    );
    await sql`update audit_chain_heads set last_sequence = ${sequence},
              last_hash = (select row_hash from audit_logs where tenant_id = ${tenantId} and chain_sequence = ${sequence})
              where tenant_id = ${tenantId}`.execute(transaction);
  });
}

describe(`audit checkpoint writer and verifier (${testEngine})`, () => {
  let database: TestDatabase;
  let scratch: string;
  let first: string;
  let second: string;
  let empty: string;

  before(async () => {
    database = await openTestDatabase();
    scratch = await mkdtemp(join(tmpdir(), 'corebank-checkpoint-writer-'));
    first = await ensureTenant(database, 'checkpoint-first');
    second = await ensureTenant(database, 'checkpoint-second');
    empty = await ensureTenant(database, 'checkpoint-empty');
    await writeAndSeal(database, first, 6);
    await writeAndSeal(database, second, 4);
  });
  after(async () => {
    await database.close();
    await rm(scratch, { recursive: true, force: true });
  });

  test('two writers at once leave exactly one whole file per tenant and head, and no temporary file', async () => {
    const directory = join(scratch, 'concurrent');
    const results = await Promise.all([
      writeAuditCheckpoints(database.db, directory, keys),
      writeAuditCheckpoints(database.db, directory, keys),
      writeAuditCheckpoints(database.db, directory, keys),
    ]);
    const written = results.flatMap((result) => result.written).sort();
    const expected = [`${first}-6.checkpoint`, `${second}-4.checkpoint`].sort();
    assert.deepEqual(written, expected, 'each file is written by exactly one writer');
    assert.deepEqual((await readdir(directory)).sort(), expected, 'no temporary file, no duplicate');
    for (const result of results) {
      assert.equal(result.refused.length, 0);
      assert.ok(result.empty >= 1, 'the tenant without sealed rows gets no checkpoint');
    }
    const parsed = parseCheckpoint(await readFile(join(directory, `${first}-6.checkpoint`), 'utf8'));
    assert.equal(parsed.tenantId, first);
    assert.equal(parsed.chainSequence, 6);
    assert.ok(!(await readdir(directory)).some((name) => name.includes(empty)));
    const verified = await verifyAuditCheckpoints(database.db, directory, keys);
    assert.deepEqual(verified, { checked: 2, problems: [] });
  });

  test('verify reports the oldest checkpoint that no longer matches first, and the writer refuses to sign over it', async () => {
    const directory = join(scratch, 'history');
    await writeAuditCheckpoints(database.db, directory, keys);
    await writeAndSeal(database, first, 3);
    const moved = await writeAuditCheckpoints(database.db, directory, keys);
    assert.deepEqual(moved.written, [`${first}-9.checkpoint`], 'only the tenant whose head moved');
    assert.equal(moved.unchanged, 1);

    await truncateTo(database, first, 5);
    const verified = await verifyAuditCheckpoints(database.db, directory, keys);
    assert.equal(verified.checked, 3);
    assert.deepEqual(
      verified.problems.map((problem) => [problem.fileName, problem.kind]),
      [
        [`${first}-6.checkpoint`, 'missing'],
        [`${first}-9.checkpoint`, 'missing'],
      ],
    );
    const refused = await writeAuditCheckpoints(database.db, directory, keys);
    assert.equal(refused.written.length, 0);
    assert.deepEqual(
      refused.refused.map((problem) => [problem.tenantId, problem.fileName, problem.kind]),
      [[first, `${first}-9.checkpoint`, 'missing']],
    );
  });

  test('regression (review): a genuine checkpoint copied under a later name let the writer sign a rewound head', async () => {
    const renamed = await ensureTenant(database, 'checkpoint-renamed');
    await writeAndSeal(database, renamed, 5);
    const directory = join(scratch, 'renamed');
    await writeAuditCheckpoints(database.db, directory, keys);
    await writeAndSeal(database, renamed, 3);
    await writeAuditCheckpoints(database.db, directory, keys);
    const planted = `${renamed}-99.checkpoint`;
    await writeFile(join(directory, planted), await readFile(join(directory, `${renamed}-5.checkpoint`)));
    await truncateTo(database, renamed, 6);
    const refused = await writeAuditCheckpoints(database.db, directory, keys);
    assert.ok(!refused.written.includes(`${renamed}-6.checkpoint`), 'the rewound head is not signed');
    assert.deepEqual(
      refused.refused.filter((problem) => problem.tenantId === renamed).map((problem) => problem.fileName),
      [`${renamed}-8.checkpoint`],
    );
    const verified = await verifyAuditCheckpoints(database.db, directory, keys);
    const byFile = new Map(verified.problems.map((problem) => [problem.fileName, problem.kind]));
    assert.equal(byFile.get(planted), 'unreadable', 'the copy is reported, not taken for sequence 99');
  });

  test('regression (review): a file planted at the next name silently stopped the tenant’s checkpoints; a symlink was skipped unreported', async () => {
    const planted = await ensureTenant(database, 'checkpoint-planted');
    await writeAndSeal(database, planted, 2);
    const directory = join(scratch, 'planted');
    await writeAuditCheckpoints(database.db, directory, keys);
    await writeAndSeal(database, planted, 1);
    await writeFile(join(directory, `${planted}-3.checkpoint`), 'not a checkpoint\n');
    const refused = await writeAuditCheckpoints(database.db, directory, keys);
    assert.deepEqual(
      refused.refused
        .filter((problem) => problem.tenantId === planted)
        .map((problem) => [problem.fileName, problem.kind]),
      [[`${planted}-3.checkpoint`, 'unreadable']],
      'refused and reported, not counted as unchanged',
    );
    await symlink('/etc/hostname', join(directory, 'linked.checkpoint'));
    const verified = await verifyAuditCheckpoints(database.db, directory, keys);
    const byFile = new Map(verified.problems.map((problem) => [problem.fileName, problem.kind]));
    assert.equal(byFile.get('linked.checkpoint'), 'unreadable');
  });

  test('a file that is not a checkpoint, and one signed by another key, are reported by name', async () => {
    const directory = join(scratch, 'foreign');
    await writeAuditCheckpoints(database.db, directory, keys);
    await writeFile(join(directory, 'garbage.checkpoint'), 'not a checkpoint\n');
    const stranger = generateKeyPairSync('ed25519');
    const foreignDirectory = join(scratch, 'foreign-key');
    await writeAuditCheckpoints(database.db, foreignDirectory, {
      keyName: keys.keyName,
      signingKey: stranger.privateKey,
      publicKeys: [stranger.publicKey],
    });
    const [foreign = ''] = await readdir(foreignDirectory);
    await writeFile(join(directory, 'z-foreign.checkpoint'), await readFile(join(foreignDirectory, foreign)));
    const verified = await verifyAuditCheckpoints(database.db, directory, keys);
    const byFile = new Map(verified.problems.map((problem) => [problem.fileName, problem.kind]));
    assert.equal(byFile.get('garbage.checkpoint'), 'unreadable');
    assert.equal(byFile.get('z-foreign.checkpoint'), 'bad_signature');
  });

  test('after a key rotation the writer still compares with checkpoints of the retired key, and a planted file does not stop it', async () => {
    const directory = join(scratch, 'rotation');
    const third = await ensureTenant(database, 'checkpoint-rotation');
    await writeAndSeal(database, third, 4);
    await writeAuditCheckpoints(database.db, directory, keys);
    const next = generateKeyPairSync('ed25519');
    const rotated: CheckpointKeys = {
      keyName: keys.keyName,
      signingKey: next.privateKey,
      publicKeys: [next.publicKey, ...keys.publicKeys],
    };
    // A file anyone could drop into the directory, newer than every genuine one: passed over.
    await writeFile(join(directory, `${third}-99.checkpoint`), 'planted\n');
    await writeAndSeal(database, third, 2);
    const moved = await writeAuditCheckpoints(database.db, directory, rotated);
    assert.ok(moved.written.includes(`${third}-6.checkpoint`), JSON.stringify(moved));

    await truncateTo(database, third, 3);
    const refused = await writeAuditCheckpoints(database.db, directory, rotated);
    assert.deepEqual(
      refused.refused.filter((problem) => problem.tenantId === third).map((problem) => problem.fileName),
      [`${third}-6.checkpoint`],
    );
    const verified = await verifyAuditCheckpoints(database.db, directory, rotated);
    const ofThird = verified.problems.filter(
      (problem) => problem.tenantId === third || problem.fileName.startsWith(third),
    );
    assert.deepEqual(
      ofThird.map((problem) => [problem.fileName, problem.kind]),
      [
        [`${third}-4.checkpoint`, 'missing'],
        [`${third}-6.checkpoint`, 'missing'],
        [`${third}-99.checkpoint`, 'unreadable'],
      ],
      'the retired key still verifies its checkpoint, which is the oldest failure',
    );
  });

  test('the scheduled job is off at interval 0 and otherwise writes, logging a refusal as an error', async () => {
    const directory = join(scratch, 'job');
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const off = loadConfig({ NODE_ENV: 'test', AUDIT_CHECKPOINT_DIR: directory });
    assert.deepEqual(auditCheckpointJobs(database, off, logger), []);
    const on = loadConfig({
      NODE_ENV: 'test',
      AUDIT_CHECKPOINT_DIR: directory,
      AUDIT_CHECKPOINT_INTERVAL_MS: '1000',
    });
    const [job] = auditCheckpointJobs(database, on, logger);
    assert.equal(job?.name, 'audit-checkpoint');
    assert.equal(job?.intervalMs, 1000);
    await job?.run();
    assert.ok((await readdir(directory)).includes(`${second}-4.checkpoint`));
    assert.ok(lines.some((line) => line.includes('audit checkpoints written')));

    await truncateTo(database, second, 2);
    await job?.run();
    const refusal = lines.map((line) => JSON.parse(line)).find((entry) => entry.level === 50);
    assert.ok(refusal, 'a refused checkpoint is logged at error level');
    assert.equal(refusal.tenantId, second);
    assert.equal(refusal.kind, 'missing');
    assert.match(refusal.msg, /audit checkpoint refused/);
  });
});
