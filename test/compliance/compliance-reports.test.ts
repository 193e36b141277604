import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import { buildProgram } from '../../src/cli/main.ts';
import { CliError, type CliRuntime } from '../../src/cli/runtime.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { complianceSettings } from '../../src/modules/compliance/compliance.service.ts';
import { runScheduledReports } from '../../src/modules/compliance/compliance-schedule.ts';
import { writeAuditCheckpoints } from '../../src/platform/audit/audit-checkpoint.ts';
import { sealPendingAudits } from '../../src/platform/audit/audit-sealer.ts';
import {
  bearer,
  ensureTenant,
  type LoggedIn,
  type LoggedInCustomer,
  loginCustomer,
  loginStaff,
} from '../helpers/auth.ts';
import { testEngine } from '../helpers/database.ts';
import { answerCode } from '../helpers/responses.ts';
import { createHarness, type Harness } from '../identity/harness.ts';

/*
 * Issue 11 item 4: compliance reports. Each type is generated over data this file writes (through the
 * API where there is one, directly where the data is a log), and its count is checked by hand against
 * the fixture below. The stored hash re-verifies, a tampered report_data fails, the CSV parses back.
 */

const canonicalize = createRequire(import.meta.url)('canonicalize') as (input: unknown) => string;
const path = '/v1/admin/compliance/reports';
const largeMinor = 50_000;

let harness: Harness;
let checkpointDirectory: string;
let tenantId: string;
let admin: LoggedIn;
let officer: LoggedIn;
let alice: LoggedInCustomer;
let bob: LoggedInCustomer;
let periodStart: string;

interface Report {
  id: string;
  report_type: string;
  total_records: number;
  report_hash: string;
  report_period_start: string;
  report_period_end: string;
  submitted_to_authority: boolean;
  submission_date: string | null;
  authority_acknowledgment: string | null;
  generated_by: string;
  report_data: {
    total_records: number;
    summary: Record<string, unknown>;
    columns: string[];
    rows: Record<string, string | number | boolean | null>[];
    parameters: Record<string, unknown>;
  };
}

function send(method: 'GET' | 'POST', url: string, login: LoggedIn, payload?: Record<string, unknown>) {
  return harness.app.inject({
    method,
    url,
    headers: { ...bearer(login), 'idempotency-key': randomUUID() },
    ...(payload ? { payload } : {}),
  });
}

async function ok(method: 'GET' | 'POST', url: string, login: LoggedIn, payload?: Record<string, unknown>) {
  const response = await send(method, url, login, payload);
  assert.ok(response.statusCode < 300, `${method} ${url}: ${response.statusCode} ${response.body}`);
  return response;
}

/** A report of the type over [periodStart, now). */
async function generate(type: string, login: LoggedIn = admin): Promise<Report> {
  const response = await send('POST', path, login, { type, from: periodStart, to: new Date().toISOString() });
  assert.equal(response.statusCode, 201, response.body);
  return response.json() as Report;
}

function insertLogs(): Promise<void> {
  return withScope(harness.database.db, { tenantId }, async (transaction) => {
    const login = (status: 'success' | 'failed' | 'blocked', failure_reason: string | null) => ({
      tenant_id: tenantId,
      user_id: alice.userId,
      login_type: 'user_login' as const,
      status,
      failure_reason,
    });
    await transaction
      .insertInto('login_audits')
      .values([
        login('failed', 'invalid_pin'),
        login('failed', 'invalid_pin'),
        login('failed', 'invalid_otp'),
        login('blocked', 'account_locked'),
      ])
      .execute();
    const event = (event_type: string) => ({
      tenant_id: tenantId,
      user_id: alice.userId,
      event_type,
      event_category: 'authentication' as const,
      severity: 'medium' as const,
    });
    await transaction
      .insertInto('security_events')
      .values([event('ACCOUNT_LOCKED'), event('USER_LOGIN_FAILED')])
      .execute();
  });
}

/**
 * The fixture, counted by hand:
 * - money (threshold 50 000): Alice tops up 60 000 and 10 000, Bob 70 000, Alice sends Bob 55 000.
 *   Customer wallet entries: 3 top-ups, 1 transfer_out, 1 transfer_in = 5. Large: Alice's 60 000
 *   top-up, Bob's 70 000 top-up and the 55 000 transfer (counted once, as transfer_out) = 3.
 * - logins: 3 failed and 1 blocked attempt, 1 ACCOUNT_LOCKED event (the USER_LOGIN_FAILED event and
 *   every successful login of the harness are not counted) = 5.
 * - KYC: Alice and Bob submit tier 1 = 2, both pending.
 * - incidents: low, high and high opened, one high moved to investigating = 3.
 */
async function createFixture(): Promise<void> {
  await ok('POST', '/v1/transactions/topup', alice, { amount: 60_000 });
  await ok('POST', '/v1/transactions/topup', alice, { amount: 10_000 });
  await ok('POST', '/v1/transactions/topup', bob, { amount: 70_000 });
  await ok('POST', '/v1/transactions/transfer', alice, {
    to_account_number: bob.accountNumber,
    amount: 55_000,
  });
  await insertLogs();
  for (const [index, customer] of [alice, bob].entries()) {
    await ok('POST', '/v1/kyc', customer, {
      tier_level: 1,
      document_type: 'national_id',
      document_country: 'ID',
      document_number: `317401234567890${index}`,
    });
  }
  const incidents = [];
  for (const severity of ['low', 'high', 'high']) {
    const opened = await ok('POST', '/v1/admin/security/incidents', admin, {
      incident_type: 'compliance_check',
      severity,
      title: `Incident ${severity}`,
    });
    incidents.push((opened.json() as { id: string }).id);
  }
  const moved = await harness.app.inject({
    method: 'PATCH',
    url: `/v1/admin/security/incidents/${incidents[2]}`,
    headers: bearer(admin),
    payload: { status: 'investigating' },
  });
  assert.equal(moved.statusCode, 200, moved.body);
}

before(async () => {
  checkpointDirectory = await mkdtemp(join(tmpdir(), 'corebank-compliance-'));
  harness = await createHarness({
    COMPLIANCE_LARGE_TRANSACTION_MINOR: String(largeMinor),
    AUDIT_CHECKPOINT_DIR: checkpointDirectory,
  });
  tenantId = await ensureTenant(harness.app);
  // A second before anything is written: the period starts before the fixture's first row.
  periodStart = new Date(Date.now() - 1000).toISOString();
  admin = await loginStaff(harness.app, 'admin');
  officer = await loginStaff(harness.app, 'officer');
  alice = await loginCustomer(harness.app);
  bob = await loginCustomer(harness.app);
  await createFixture();
});

after(async () => {
  await harness.close();
  await rm(checkpointDirectory, { recursive: true, force: true });
});

function sumOf(
  rows: Report['report_data']['rows'],
  column: string,
  where: (row: Report['report_data']['rows'][number]) => boolean,
) {
  return rows.filter(where).reduce((total, row) => total + Number(row[column]), 0);
}

describe(`compliance reports (${testEngine})`, () => {
  test('the daily transaction summary counts the 5 customer wallet entries, with integer totals by type', async () => {
    const report = await generate('daily_transaction_summary');
    assert.equal(report.total_records, 5);
    assert.equal(report.report_data.total_records, 5);
    const rows = report.report_data.rows;
    assert.equal(
      sumOf(rows, 'count', (row) => row.type === 'topup'),
      3,
    );
    assert.equal(
      sumOf(rows, 'amount_total_minor', (row) => row.type === 'topup'),
      140_000,
    );
    assert.equal(
      sumOf(rows, 'amount_total_minor', (row) => row.type === 'transfer_out'),
      55_000,
    );
    assert.equal(
      sumOf(rows, 'amount_total_minor', (row) => row.type === 'transfer_in'),
      55_000,
    );
    for (const row of rows) assert.equal(typeof row.amount_total_minor, 'string');
    assert.equal(report.generated_by, 'staff');
  });

  test('large transactions lists the 3 movements at or above the threshold, each transfer once', async () => {
    const report = await generate('large_transactions');
    assert.equal(report.total_records, 3);
    const listed = report.report_data.rows.map((row) => `${row.type}:${row.amount_minor}`).sort();
    assert.deepEqual(listed, ['topup:60000', 'topup:70000', 'transfer_out:55000']);
    assert.equal(report.report_data.parameters.amount_min_minor, String(largeMinor));
  });

  test('the failed-login and lockout summary counts 3 failed, 1 blocked attempt and 1 lockout', async () => {
    const report = await generate('login_failure_summary');
    assert.equal(report.total_records, 5);
    assert.deepEqual(report.report_data.summary, {
      failed_attempts: 3,
      blocked_attempts: 1,
      lockouts: 1,
      locked_users: 1,
    });
    const invalidPin = report.report_data.rows.find((row) => row.failure_reason === 'invalid_pin');
    assert.equal(invalidPin?.count, 2);
  });

  test('the KYC status summary counts the 2 tier-1 submissions, pending', async () => {
    const report = await generate('kyc_status_summary');
    assert.equal(report.total_records, 2);
    assert.deepEqual(report.report_data.rows, [{ tier_level: 1, status: 'pending', count: 2 }]);
  });

  test('the security incident summary counts the 3 incidents by severity and status', async () => {
    const report = await generate('security_incident_summary');
    assert.equal(report.total_records, 3);
    assert.deepEqual(report.report_data.rows, [
      { severity: 'high', status: 'investigating', count: 1 },
      { severity: 'high', status: 'open', count: 1 },
      { severity: 'low', status: 'open', count: 1 },
    ]);
  });

  test('the audit-integrity attestation carries the chain verification and the newest checkpoint', async () => {
    const keys = { key: harness.config.auditHmacKey, keyId: harness.config.auditHmacKeyId };
    while ((await sealPendingAudits(harness.database.db, keys)) > 0) {}
    const { keyName, signingKey, publicKeys } = harness.config.auditCheckpoint;
    await writeAuditCheckpoints(harness.database.db, checkpointDirectory, {
      keyName,
      signingKey,
      publicKeys,
    });
    const sealed = await withScope(harness.database.db, { tenantId }, (transaction) =>
      sql<{
        count: number;
      }>`select count(*)::int as count from audit_logs where tenant_id = ${tenantId}`.execute(transaction),
    );
    const expected = sealed.rows[0]?.count ?? 0;
    assert.ok(expected > 10, `the fixture wrote ${expected} audit rows`);
    const report = await generate('audit_integrity_attestation');
    assert.equal(report.total_records, expected);
    const [row] = report.report_data.rows;
    assert.equal(row?.chain_valid, true);
    assert.equal(row?.sealed_rows, expected);
    assert.equal(row?.checkpoint_valid, true);
    assert.equal(row?.checkpoint_sequence, expected);
    assert.equal(row?.problem_kind, null);
  });

  test('the hash re-verifies (through the API and independently, RFC 8785 + SHA-256), and a tampered report_data fails', async () => {
    const report = await generate('daily_transaction_summary');
    const downloaded = await ok('GET', `${path}/${report.id}/download?format=json`, officer);
    assert.match(String(downloaded.headers['content-type']), /^application\/json/);
    assert.match(String(downloaded.headers['content-disposition']), /^attachment; filename=".+\.json"$/);
    const file = downloaded.json() as Report;
    const recomputed = createHash('sha256').update(canonicalize(file.report_data)).digest('hex');
    assert.equal(recomputed, report.report_hash);

    const verified = await ok('POST', `${path}/${report.id}/verify`, officer);
    assert.deepEqual(verified.json(), {
      id: report.id,
      valid: true,
      report_hash: report.report_hash,
      computed_hash: report.report_hash,
      audited_hash: report.report_hash,
      problems: [],
    });

    await withScope(harness.database.db, { tenantId }, (transaction) =>
      sql`update compliance_reports set report_data = jsonb_set(report_data, '{rows,0,count}', '99')
          where tenant_id = ${tenantId} and id = ${report.id}`.execute(transaction),
    );
    const tampered = (await ok('POST', `${path}/${report.id}/verify`, officer)).json() as {
      valid: boolean;
      computed_hash: string;
      problems: string[];
    };
    assert.equal(tampered.valid, false);
    assert.notEqual(tampered.computed_hash, report.report_hash);
    assert.deepEqual(tampered.problems, ['report_hash is not the hash of report_data']);

    // Rewritten together with a matching hash: the hash the sealed audit row recorded still disagrees.
    const rewritten = (await ok('GET', `${path}/${report.id}`, admin)).json() as Report;
    const forgedHash = createHash('sha256').update(canonicalize(rewritten.report_data)).digest('hex');
    await withScope(harness.database.db, { tenantId }, (transaction) =>
      sql`update compliance_reports set report_hash = ${forgedHash}
          where tenant_id = ${tenantId} and id = ${report.id}`.execute(transaction),
    );
    const forged = (await ok('POST', `${path}/${report.id}/verify`, officer)).json() as {
      valid: boolean;
      problems: string[];
    };
    assert.equal(forged.valid, false);
    assert.deepEqual(forged.problems, [
      'report_hash differs from the hash the audit trail recorded at generation',
    ]);
  });

  test('the CSV download parses back to the report rows under the column header', async () => {
    const report = await generate('large_transactions');
    const response = await ok('GET', `${path}/${report.id}/download?format=csv`, admin);
    assert.match(String(response.headers['content-type']), /^text\/csv/);
    assert.match(String(response.headers['content-disposition']), /\.csv"$/);
    const records = parse(response.body, { columns: true }) as Record<string, string>[];
    assert.equal(records.length, 3);
    assert.deepEqual(Object.keys(records[0] ?? {}), report.report_data.columns);
    assert.deepEqual(records.map((record) => record.amount_minor).sort(), ['55000', '60000', '70000']);
  });

  test('the submission is recorded once; a second is 409 COMPLIANCE_REPORT_ALREADY_SUBMITTED', async () => {
    const report = await generate('kyc_status_summary');
    const first = await ok('POST', `${path}/${report.id}/submission`, admin, {
      authority_acknowledgment: 'OJK-2026-000123',
    });
    const submitted = first.json() as Report;
    assert.equal(submitted.submitted_to_authority, true);
    assert.equal(submitted.authority_acknowledgment, 'OJK-2026-000123');
    assert.ok(submitted.submission_date);
    const second = await send('POST', `${path}/${report.id}/submission`, admin, {});
    assert.equal(second.statusCode, 409);
    assert.equal(answerCode(second), 'COMPLIANCE_REPORT_ALREADY_SUBMITTED');
    const future = await generate('kyc_status_summary');
    const ahead = await send('POST', `${path}/${future.id}/submission`, admin, {
      submission_date: new Date(Date.now() + 3_600_000).toISOString(),
    });
    assert.equal(answerCode(ahead), 'VALIDATION_FAILED');
    const audit = await ok(
      'GET',
      `/v1/admin/audit-logs?entity_type=compliance_report&entity_id=${report.id}`,
      admin,
    );
    const actions = audit.json() as { items?: { action: string }[]; [key: string]: unknown };
    const rows = Object.values(actions).find(Array.isArray) as { action: string }[];
    assert.deepEqual(rows.map((row) => row.action).sort(), ['generate', 'submit']);
  });

  test('bad periods and types are 400 with a clear code', async () => {
    const now = Date.now();
    const at = (offsetMs: number) => new Date(now + offsetMs).toISOString();
    const cases: [Record<string, unknown>, string][] = [
      [{ type: 'daily_transaction_summary', from: at(-1000), to: at(-2000) }, 'COMPLIANCE_PERIOD_INVALID'],
      [{ type: 'daily_transaction_summary', from: at(-1000), to: at(-1000) }, 'COMPLIANCE_PERIOD_INVALID'],
      [
        { type: 'daily_transaction_summary', from: at(-367 * 86_400_000), to: at(-1000) },
        'COMPLIANCE_PERIOD_INVALID',
      ],
      [
        { type: 'daily_transaction_summary', from: at(-1000), to: at(3_600_000) },
        'COMPLIANCE_PERIOD_INVALID',
      ],
      [{ type: 'money_laundering', from: at(-2000), to: at(-1000) }, 'VALIDATION_FAILED'],
      [
        { type: 'daily_transaction_summary', from: '2026-02-30T00:00:00Z', to: at(-1000) },
        'VALIDATION_FAILED',
      ],
      [{ type: 'daily_transaction_summary', from: at(-2000) }, 'VALIDATION_FAILED'],
      [{ type: 'daily_transaction_summary', from: at(-2000), to: at(-1000), extra: 1 }, 'VALIDATION_FAILED'],
    ];
    for (const [payload, code] of cases) {
      const response = await send('POST', path, admin, payload);
      assert.equal(response.statusCode, 400, `${JSON.stringify(payload)}: ${response.body}`);
      assert.equal(answerCode(response), code, JSON.stringify(payload));
    }
    const format = await send('GET', `${path}/${randomUUID()}/download?format=xml`, admin);
    assert.equal(format.statusCode, 400);
  });

  test('a customer gets 403 on every route, an officer reads but cannot generate or submit', async () => {
    const report = await generate('kyc_status_summary');
    const calls: ['GET' | 'POST', string][] = [
      ['GET', path],
      ['POST', path],
      ['GET', `${path}/${report.id}`],
      ['GET', `${path}/${report.id}/download`],
      ['POST', `${path}/${report.id}/verify`],
      ['POST', `${path}/${report.id}/submission`],
    ];
    const body = { type: 'kyc_status_summary', from: periodStart, to: new Date().toISOString() };
    for (const [method, url] of calls) {
      const response = await send(method, url, alice, method === 'POST' ? body : undefined);
      assert.equal(response.statusCode, 403, `${method} ${url}: ${response.body}`);
    }
    assert.equal((await send('POST', path, officer, body)).statusCode, 403);
    assert.equal((await send('POST', `${path}/${report.id}/submission`, officer, {})).statusCode, 403);
    assert.equal((await send('GET', `${path}/${report.id}`, officer)).statusCode, 200);
  });

  test("another tenant's staff can neither read nor list nor verify the report", async () => {
    const report = await generate('kyc_status_summary');
    const otherTenant = await ensureTenant(harness.app, 'compliance-other');
    const outsider = await loginStaff(harness.app, 'admin', { tenantId: otherTenant });
    for (const [method, url] of [
      ['GET', `${path}/${report.id}`],
      ['GET', `${path}/${report.id}/download?format=csv`],
      ['POST', `${path}/${report.id}/verify`],
      ['POST', `${path}/${report.id}/submission`],
    ] as const) {
      const response = await send(method, url, outsider, method === 'POST' ? {} : undefined);
      assert.equal(response.statusCode, 404, `${method} ${url}: ${response.body}`);
    }
    const list = (await ok('GET', path, outsider)).json() as { reports: unknown[] };
    assert.deepEqual(list.reports, []);
    const own = (await ok('GET', `${path}?type=kyc_status_summary&limit=100`, admin)).json() as {
      reports: { id: string }[];
    };
    assert.ok(own.reports.some((item) => item.id === report.id));
  });

  test('the daily schedule generates the previous UTC day once per tenant, however often it runs', async () => {
    const settings = complianceSettings(harness.config);
    const tomorrow = new Date(Date.now() + 86_400_000);
    const [first, second] = await Promise.all([
      runScheduledReports(harness.database.db, settings, tomorrow),
      runScheduledReports(harness.database.db, settings, tomorrow),
    ]);
    const generated = [...(first?.generated ?? []), ...(second?.generated ?? [])];
    const tenants = await harness.database.db
      .selectFrom('tenants')
      .select('id')
      .where('status', '=', 'active')
      .execute();
    assert.equal(generated.length, tenants.length);
    const again = await runScheduledReports(harness.database.db, settings, tomorrow);
    assert.deepEqual(again.generated, []);
    const ours = generated.find((item) => item.tenantId === tenantId);
    assert.ok(ours);
    const stored = (await ok('GET', `${path}/${ours.reportId}`, admin)).json() as Report;
    assert.equal(stored.generated_by, 'schedule');
    assert.equal(stored.report_type, 'daily_transaction_summary');
    const today = new Date();
    today.setUTCHours(0, 0, 0, 0);
    assert.equal(stored.report_period_start, today.toISOString());
    assert.equal((await ok('POST', `${path}/${ours.reportId}/verify`, admin)).json().valid, true);
  });
});

describe('corebank report generate', () => {
  function runtimeFor(): CliRuntime {
    return {
      config: () => harness.config,
      openDatabase: async () => ({ ...harness.database, close: async () => {} }),
    };
  }

  /**
   * What the command wrote to stdout. Unanchored matches only: in a test process the runner's own
   * reports travel on stdout too and may land between the command's writes (and are passed on).
   */
  async function run(args: string[]): Promise<{ output: string; error: unknown }> {
    const writes: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    const originalError = process.stderr.write.bind(process.stderr);
    // Passed on as well as kept: the runner's reports of other tests must still reach the runner.
    process.stdout.write = ((chunk: string) => {
      writes.push(String(chunk));
      return original(chunk);
    }) as typeof process.stdout.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      await buildProgram(runtimeFor()).parseAsync(['report', 'generate', ...args], { from: 'user' });
      return { output: writes.join(''), error: undefined };
    } catch (error) {
      return { output: writes.join(''), error };
    } finally {
      process.stdout.write = original;
      process.stderr.write = originalError;
    }
  }

  test('prints the id, the total and the hash of the stored report; refuses a bad type or period in one line', async () => {
    const to = new Date().toISOString();
    const generated = await run(['--type', 'large_transactions', '--from', periodStart, '--to', to]);
    assert.equal(generated.error, undefined, String(generated.error));
    const match =
      /Report ([0-9a-f-]{36}): large_transactions \S+ to \S+, 3 records, sha256 ([0-9a-f]{64})\n/.exec(
        generated.output,
      );
    assert.ok(match, generated.output);
    const stored = (await ok('GET', `${path}/${match[1]}`, admin)).json() as Report;
    assert.equal(stored.report_hash, match[2]);
    assert.equal(stored.generated_by, 'cli');

    const unknown = await run(['--type', 'everything', '--from', periodStart, '--to', to]);
    assert.ok(unknown.error instanceof CliError);
    assert.match(
      unknown.error.message,
      /^unknown report type "everything"; one of: daily_transaction_summary/,
    );
    const backwards = await run(['--type', 'kyc_status_summary', '--from', to, '--to', periodStart]);
    assert.ok(backwards.error instanceof CliError);
    assert.match(backwards.error.message, /^COMPLIANCE_PERIOD_INVALID: .*\(to must be after from\)$/);
    const tenant = await run([
      '--type',
      'kyc_status_summary',
      '--from',
      periodStart,
      '--to',
      to,
      '--tenant',
      'nope',
    ]);
    assert.ok(tenant.error instanceof CliError);
    assert.equal(tenant.error.message, 'no active tenant with slug "nope"');
  });
});
