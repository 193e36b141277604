import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { loadConfig } from '../../src/config/config.ts';
import { openDatabase } from '../../src/db/database.ts';
import { readDatabaseStatus } from '../../src/db/database-status.ts';
import type { Database } from '../../src/db/schema.ts';
import { seedDatabase } from '../../src/db/seed/seed.ts';
import { readArchiveRows, verifyArchive } from '../../src/modules/retention/retention-archive.ts';
import { heldUsersForRetention } from '../../src/modules/retention/retention-holds.ts';
import {
  type RetentionRunOptions,
  runRetention,
  type TableOutcome,
} from '../../src/modules/retention/retention-run.ts';
import {
  type CheckpointKeys,
  verifyAuditCheckpoints,
  writeAuditCheckpoints,
} from '../../src/platform/audit/audit-checkpoint.ts';
import { sealPendingAudits } from '../../src/platform/audit/audit-sealer.ts';
import { verifyAuditChains } from '../../src/platform/audit/audit-verifier.ts';
import { bearer, ensureTenant, loginCustomer, loginStaff } from '../helpers/auth.ts';
import { openTestDatabase, testEngine } from '../helpers/database.ts';
import { runCommand } from '../helpers/server-process.ts';
import { createHarness, type Harness } from '../identity/harness.ts';

const dayMs = 86_400_000;

function monthStart(now: Date, monthsBack: number): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - monthsBack, 1));
}

function partitionName(table: string, start: Date): string {
  return `${table}_p${start.getUTCFullYear()}_${String(start.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** An old month's partition, made as the partition job makes them (guards included). */
async function createMonth(db: Kysely<Database>, table: string, start: Date): Promise<string> {
  const name = partitionName(table, start);
  const end = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
  await sql`create table if not exists ${sql.table(name)} partition of ${sql.table(table)}
            for values from (${sql.lit(start.toISOString())}) to (${sql.lit(end.toISOString())})`.execute(db);
  await sql`select corebank_guard_partition(${name}, ${table})`.execute(db);
  return name;
}

async function insertAccessRows(
  db: Kysely<Database>,
  tenantId: string,
  createdAt: Date,
  count: number,
  userId: string | null,
): Promise<void> {
  for (let index = 0; index < count; index += 1) {
    await sql`insert into api_access_log (tenant_id, created_at, user_id, request_id, method, endpoint, response_status)
              values (${tenantId}, ${new Date(createdAt.getTime() + index * 1000)}, ${userId},
                      ${`old-${createdAt.getTime()}-${index}`}, 'GET', '/v1/me', 200)`.execute(db);
  }
}

async function insertOldEvent(db: Kysely<Database>, tenantId: string, createdAt: Date): Promise<string> {
  const result = await sql<{ id: string }>`
    insert into security_events (tenant_id, created_at, event_type, event_category, severity)
    values (${tenantId}, ${createdAt}, 'SUSPICIOUS_LOGIN', 'threat', 'high') returning id::text as id`.execute(
    db,
  );
  return result.rows[0]?.id ?? '';
}

async function oldRowsAsJson(db: Kysely<Database>, before: Date): Promise<Record<string, unknown>[]> {
  const result = await sql<{ row: Record<string, unknown> }>`
    select to_jsonb(t) as row from api_access_log t where created_at < ${before} order by created_at, id`.execute(
    db,
  );
  return result.rows.map((row) => row.row);
}

async function exists(db: Kysely<Database>, relation: string): Promise<boolean> {
  const result = await sql<{ found: string | null }>`select to_regclass(${relation})::text as found`.execute(
    db,
  );
  return result.rows[0]?.found != null;
}

async function sealAll(db: Kysely<Database>, harness: Harness): Promise<void> {
  const signing = { key: harness.config.auditHmacKey, keyId: harness.config.auditHmacKeyId };
  while ((await sealPendingAudits(db, signing)) > 0) {}
}

function outcomeOf(tables: TableOutcome[], name: string): TableOutcome {
  const found = tables.find((table) => table.table === name);
  assert.ok(found, `an outcome for ${name}`);
  return found;
}

describe('retention run (issue 11 item 1)', () => {
  let harness: Harness;
  let tenantId: string;
  let heldUserId: string;
  let releasedUserId: string;
  let linkedEventId: string;
  let archiveDirectory: string;
  let checkpointDirectory: string;
  let options: RetentionRunOptions;
  let snapshot: Record<string, unknown>[];
  const now = new Date();
  const monthA = monthStart(now, 6);
  const monthB = monthStart(now, 5);
  let partitionA: string;
  let partitionB: string;
  let checkpointKeys: CheckpointKeys;

  before(async () => {
    harness = await createHarness();
    const db = harness.database.db;
    tenantId = await ensureTenant(harness.app);
    heldUserId = (await loginCustomer(harness.app)).userId;
    releasedUserId = (await loginCustomer(harness.app)).userId;
    const admin = await loginStaff(harness.app, 'admin');
    const place = (userId: string) =>
      harness.app.inject({
        method: 'POST',
        url: '/v1/admin/legal-holds',
        headers: bearer(admin),
        payload: { user_id: userId, reason: 'Court order: preserve account records' },
      });
    assert.equal((await place(heldUserId)).statusCode, 201);
    const released = await place(releasedUserId);
    assert.equal(released.statusCode, 201);
    const release = await harness.app.inject({
      method: 'POST',
      url: `/v1/admin/legal-holds/${released.json().id}/release`,
      headers: bearer(admin),
      payload: { reason: 'Case closed' },
    });
    assert.equal(release.statusCode, 200);
    archiveDirectory = await mkdtemp(join(tmpdir(), 'corebank-retention-'));
    checkpointDirectory = await mkdtemp(join(tmpdir(), 'corebank-retention-checkpoints-'));
    partitionA = await createMonth(db, 'api_access_log', monthA);
    partitionB = await createMonth(db, 'api_access_log', monthB);
    await insertAccessRows(db, tenantId, new Date(monthA.getTime() + 2 * dayMs), 5, null);
    await insertAccessRows(db, tenantId, new Date(monthB.getTime() + 2 * dayMs), 3, null);
    await insertAccessRows(db, tenantId, new Date(monthB.getTime() + 3 * dayMs), 1, heldUserId);
    // A released hold protects nothing: this row goes with the month's others.
    await insertAccessRows(db, tenantId, new Date(monthB.getTime() + 4 * dayMs), 1, releasedUserId);
    // Eight months back has no monthly partition: these rows sit in api_access_log_default.
    await insertAccessRows(db, tenantId, monthStart(now, 8), 2, null);
    // Past the archive age (30 days), not the delete age (90): archived and kept.
    await insertAccessRows(db, tenantId, new Date(now.getTime() - 50 * dayMs), 2, null);
    await insertAccessRows(db, tenantId, new Date(now.getTime() - 10 * dayMs), 2, null);
    snapshot = await oldRowsAsJson(db, new Date(now.getTime() - 30 * dayMs));
    linkedEventId = await insertOldEvent(db, tenantId, new Date(now.getTime() - 800 * dayMs));
    await insertOldEvent(db, tenantId, new Date(now.getTime() - 801 * dayMs));
    // An open incident links the first event: it is kept past its delete age (730 days).
    await sql`insert into security_incidents (tenant_id, incident_type, severity, title, related_event_ids)
              values (${tenantId}, 'fraud', 'high', 'Old fraud case', ${[linkedEventId]}::uuid[])`.execute(
      db,
    );
    // Audit rows past the audit archive age (365 days), sealed into the chain like any other.
    for (const index of [1, 2]) {
      await sql`insert into audit_logs (tenant_id, created_at, entity_type, entity_id, action)
                values (${tenantId}, ${new Date(now.getTime() - (400 + index) * dayMs)}, 'config', ${`old-${index}`}, 'UPDATE')`.execute(
        db,
      );
    }
    checkpointKeys = {
      keyName: harness.config.auditCheckpoint.keyName,
      signingKey: harness.config.auditCheckpoint.signingKey,
      publicKeys: harness.config.auditCheckpoint.publicKeys,
    };
    await sealAll(db, harness);
    await writeAuditCheckpoints(db, checkpointDirectory, checkpointKeys);
    options = {
      dryRun: false,
      now,
      archiveDirectory,
      keys: harness.config.backup.keys,
      tables: ['api_access_log', 'security_events', 'session_logs', 'otp_sessions'],
      heldUserIds: heldUsersForRetention,
    };
  });

  after(async () => {
    await harness.close();
    await rm(archiveDirectory, { recursive: true, force: true });
    await rm(checkpointDirectory, { recursive: true, force: true });
  });

  test('a dry run reports what it would do and changes nothing', async () => {
    const db = harness.database.db;
    const result = await runRetention(db, { ...options, dryRun: true });
    const access = outcomeOf(result.tables, 'api_access_log');
    assert.equal(access.status, 'done');
    assert.equal(access.rowsArchived, 14);
    assert.equal(access.rowsDeleted, 11);
    assert.equal(access.rowsKept, 1);
    assert.deepEqual(access.partitionsDropped, [partitionA]);
    const events = outcomeOf(result.tables, 'security_events');
    assert.deepEqual([events.rowsArchived, events.rowsDeleted, events.rowsKept], [2, 1, 1]);
    assert.deepEqual(access.files, []);
    assert.deepEqual(await readdir(archiveDirectory), []);
    assert.equal((await oldRowsAsJson(db, now)).length, 16);
    assert.ok(await exists(db, partitionA));
    const policy = await db
      .selectFrom('data_retention_policies')
      .select(['archived_through', 'last_cleanup_at'])
      .where('table_name', '=', 'api_access_log')
      .executeTakeFirstOrThrow();
    assert.equal(policy.archived_through, null);
    assert.equal(policy.last_cleanup_at, null);
  });

  test('two concurrent runs archive and delete once: one file, the old month dropped, the held row kept', async () => {
    const db = harness.database.db;
    // On PostgreSQL the second run is another pool (its own connections), as another process would be.
    const second =
      testEngine === 'postgres' && harness.database.url
        ? await openDatabase({ databaseUrl: harness.database.url, poolMax: 2 })
        : undefined;
    try {
      const [left, right] = await Promise.all([
        runRetention(db, options),
        runRetention(second?.db ?? db, options),
      ]);
      const outcomes = [outcomeOf(left.tables, 'api_access_log'), outcomeOf(right.tables, 'api_access_log')];
      const sum = (pick: (outcome: TableOutcome) => number) =>
        outcomes.reduce((total, o) => total + pick(o), 0);
      assert.equal(
        sum((outcome) => outcome.rowsArchived),
        14,
      );
      assert.equal(
        sum((outcome) => outcome.rowsDeleted),
        11,
      );
      const events = [outcomeOf(left.tables, 'security_events'), outcomeOf(right.tables, 'security_events')];
      assert.equal(events[0]!.rowsDeleted + events[1]!.rowsDeleted, 1);
      assert.equal(events[0]!.files.length + events[1]!.files.length, 1);
      assert.equal(
        sum((outcome) => outcome.files.length),
        1,
      );
      assert.equal(
        sum((outcome) => outcome.partitionsDropped.length),
        1,
      );
    } finally {
      await second?.close();
    }
    assert.equal(await exists(db, partitionA), false, 'the month without held rows is dropped');
    assert.ok(await exists(db, partitionB), 'the month with a held row is kept');
    const remaining = await oldRowsAsJson(db, now);
    assert.equal(remaining.length, 5);
    const held = remaining.filter((row) => row.user_id === heldUserId);
    assert.equal(held.length, 1, 'the row of the user under legal hold is kept');
    assert.equal(
      remaining.filter((row) => row.user_id === releasedUserId).length,
      0,
      'a released hold keeps nothing',
    );
    const events = await sql<{ id: string }>`
      select id::text as id from security_events where created_at < ${new Date(now.getTime() - 730 * dayMs)}`.execute(
      db,
    );
    assert.deepEqual(
      events.rows.map((row) => row.id),
      [linkedEventId],
      'the event an open incident links is kept',
    );
    const records = await db.selectFrom('retention_archives').selectAll().orderBy('table_name').execute();
    assert.deepEqual(
      records.map((record) => [record.table_name, record.row_count]),
      [
        ['api_access_log', 14],
        ['security_events', 2],
      ],
    );
    const files = (await readdir(archiveDirectory)).sort();
    assert.equal(files.length, 4, `two archives and their manifests: ${files.join(', ')}`);
  });

  test('the archived rows read back equal to what was deleted, and a tampered archive is refused', async () => {
    const records = await harness.database.db
      .selectFrom('retention_archives')
      .selectAll()
      .where('table_name', '=', 'api_access_log')
      .execute();
    const path = join(archiveDirectory, records[0]?.file_name ?? '');
    const rows: Record<string, unknown>[] = [];
    for await (const row of readArchiveRows(path, harness.config.backup.keys)) rows.push(row);
    assert.deepEqual(rows, snapshot);
    const manifest = await verifyArchive(path, harness.config.backup.keys);
    assert.equal(manifest.sha256, records[0]?.sha256);
    const original = await readFile(path);
    const altered = Buffer.from(original);
    altered[altered.length - 5] = (altered[altered.length - 5] ?? 0) ^ 0xff;
    await writeFile(path, altered);
    await assert.rejects(
      verifyArchive(path, harness.config.backup.keys),
      /does not match its manifest's size and SHA-256/,
    );
    await writeFile(path, original);
    const manifestText = await readFile(`${path}.manifest.json`, 'utf8');
    await writeFile(`${path}.manifest.json`, manifestText.replace('"row_count": 14', '"row_count": 13'));
    await assert.rejects(verifyArchive(path, harness.config.backup.keys), /does not match its signature/);
    await writeFile(`${path}.manifest.json`, manifestText);
  });

  test('a second run does nothing again, and each deletion is in the tenant audit trail', async () => {
    const db = harness.database.db;
    const result = await runRetention(db, options);
    const access = outcomeOf(result.tables, 'api_access_log');
    assert.equal(access.rowsArchived, 0);
    assert.equal(access.rowsDeleted, 0);
    assert.equal(access.rowsKept, 1);
    assert.deepEqual(access.files, []);
    const audits = await sql<{ details: { rows_deleted: number } }>`
      select details from audit_logs where tenant_id = ${tenantId} and entity_type = 'retention_policy'
        and entity_id = 'api_access_log' and action = 'RETENTION_RUN'`.execute(db);
    assert.equal(audits.rows.length, 1);
    assert.equal(audits.rows[0]?.details.rows_deleted, 11);
  });

  test('audit verify and the checkpoints pass after retention; audit rows are archived, never deleted', async () => {
    const db = harness.database.db;
    await sealAll(db, harness);
    const audit = outcomeOf(
      (await runRetention(db, { ...options, tables: ['audit_logs'] })).tables,
      'audit_logs',
    );
    assert.match(audit.message ?? '', /never deleted/);
    assert.equal(audit.rowsArchived, 2);
    assert.equal(audit.files.length, 1);
    assert.equal(audit.rowsDeleted, 0);
    const kept = await sql<{ count: number }>`
      select count(*)::int as count from audit_logs where entity_id in ('old-1', 'old-2')`.execute(db);
    assert.equal(kept.rows[0]?.count, 2);
    const chains = await verifyAuditChains(
      db,
      new Map([[harness.config.auditHmacKeyId, harness.config.auditHmacKey]]),
    );
    assert.equal(chains.problem, undefined);
    await writeAuditCheckpoints(db, checkpointDirectory, checkpointKeys);
    const checkpoints = await verifyAuditCheckpoints(db, checkpointDirectory, checkpointKeys);
    assert.ok(checkpoints.checked >= 2, 'the checkpoint from before retention and the one after');
    assert.deepEqual(checkpoints.problems, []);
  });
});

describe('retention policies over HTTP (issue 11 item 1)', () => {
  let harness: Harness;
  const path = '/v1/admin/retention-policies';

  before(async () => {
    harness = await createHarness();
  });
  after(() => harness.close());

  test('an admin lists and reads the seeded policies; an unknown table is 404', async () => {
    const admin = await loginStaff(harness.app, 'admin');
    const list = await harness.app.inject({ method: 'GET', url: path, headers: bearer(admin) });
    assert.equal(list.statusCode, 200);
    const items = (list.json() as { items: { table_name: string; delete_after_days: number | null }[] })
      .items;
    assert.equal(items.find((item) => item.table_name === 'api_access_log')?.delete_after_days, 90);
    assert.equal(items.find((item) => item.table_name === 'otp_sessions')?.delete_after_days, 1);
    assert.equal(items.find((item) => item.table_name === 'audit_logs')?.delete_after_days, 2555);
    const missing = await harness.app.inject({
      method: 'GET',
      url: `${path}/no_such_table`,
      headers: bearer(admin),
    });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, 'NOT_FOUND');
  });

  test('a change is bounded, checked against the row and audited; an officer is refused', async () => {
    const admin = await loginStaff(harness.app, 'admin');
    const patch = (payload: unknown, table = 'session_logs', who = admin) =>
      harness.app.inject({
        method: 'PATCH',
        url: `${path}/${table}`,
        headers: bearer(who),
        payload: payload as object,
      });
    for (const refused of [
      { archive_after_days: 0 },
      { delete_after_days: 36_501 },
      { archive_after_days: 400, delete_after_days: 399 },
      { retention_period_days: 500, delete_after_days: 400 },
      { unknown: 1 },
      {},
    ]) {
      const answer = await patch(refused);
      assert.equal(answer.statusCode, 400, JSON.stringify(refused));
      assert.equal(answer.json().error.code, 'VALIDATION_FAILED');
    }
    // Checked against the stored delete age (365): an archive age beyond it alone is refused too.
    assert.equal((await patch({ archive_after_days: 400 })).statusCode, 400);
    assert.equal((await patch({ is_active: false }, 'no_such_table')).statusCode, 404);
    const officer = await loginStaff(harness.app, 'officer');
    assert.equal((await patch({ is_active: false }, 'session_logs', officer)).statusCode, 403);
    const changed = await patch({ archive_after_days: 30, delete_after_days: 400 });
    assert.equal(changed.statusCode, 200);
    assert.equal(changed.json().archive_after_days, 30);
    assert.equal(changed.json().delete_after_days, 400);
    const audit = await sql<{ old_values: { delete_after_days: number }; admin_id: string }>`
      select old_values, admin_id from audit_logs
      where entity_type = 'retention_policy' and entity_id = 'session_logs' and action = 'UPDATE'`.execute(
      harness.database.db,
    );
    assert.equal(audit.rows.length, 1);
    assert.equal(audit.rows[0]?.old_values.delete_after_days, 365);
    assert.equal(audit.rows[0]?.admin_id, admin.userId);
  });
});

describe('corebank retention (CLI)', () => {
  test('run --help documents the options; an unknown --table fails with one line', async () => {
    const help = await runCommand(['retention', 'run', '--help'], { NODE_ENV: 'test' });
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--dry-run/);
    assert.match(help.stdout, /--table/);
    const refused = await runCommand(['retention', 'run', '--table', 'users'], { NODE_ENV: 'test' });
    assert.notEqual(refused.code, 0);
    assert.equal(refused.stderr.trim().split('\n').length, 1);
    assert.match(refused.stderr, /does not clean it/);
  });
});

describe('db status after seeding (issue 11 item 2)', () => {
  test('every partition is listed, and the seeded months estimate their rows (not 0)', async () => {
    const database = await openTestDatabase();
    try {
      await seedDatabase(database, loadConfig({ NODE_ENV: 'test' }));
      const status = await readDatabaseStatus(database);
      const current = partitionName('audit_logs', monthStart(new Date(), 0));
      const partition = status.partitions.find((candidate) => candidate.name === current);
      assert.ok(partition, `${current} is listed`);
      assert.equal(partition.parent, 'audit_logs');
      assert.match(partition.bound, /FOR VALUES FROM/);
      const counted = await sql<{
        count: number;
      }>`select count(*)::int as count from ${sql.table(current)}`.execute(database.db);
      assert.ok((counted.rows[0]?.count ?? 0) > 0, 'the seed writes audit rows this month');
      assert.equal(partition.rowEstimate, counted.rows[0]?.count);
      assert.ok(status.partitions.some((candidate) => candidate.name === 'api_access_log_default'));
      const parent = status.tables.find((table) => table.name === 'audit_logs');
      assert.ok((parent?.rowEstimate ?? 0) > 0);
    } finally {
      await database.close();
    }
  });
});
