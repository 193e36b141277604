import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { seedDatabase } from '../../src/db/seed/seed.ts';
import { bearer, type LoggedIn, loginStaff } from '../helpers/auth.ts';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';

/*
 * Issue 11 item 4 on the development seed (src/db/seed): the seed's own report re-verifies, and the
 * summaries count the seeded rows, counted by hand from seed-money.ts and seed-security.ts:
 * - kyc_records: approved (tier 2), approved (tier 1), pending (tier 1), rejected (tier 2), expired
 *   (tier 1) = 5 submissions; reviewed 24 hours ago: 2 approved, 1 rejected (the expired one was
 *   approved once but its status is expired now).
 * - security_incidents: one, high, investigating.
 * - login_audits: one failed login (invalid_credentials), no lockout.
 */
const path = '/v1/admin/compliance/reports';
let app: AppInstance;
let database: TestDatabase;
let admin: LoggedIn;

before(async () => {
  database = await openTestDatabase();
  const config = loadConfig({ NODE_ENV: 'test', LOGIN_IP_FAILURES_MAX: '100000' });
  assert.equal((await seedDatabase(database, config)).seeded, true);
  app = await buildApp({ config, database, logger: false });
  await app.ready();
  admin = await loginStaff(app, 'admin');
});

after(async () => {
  await app.close();
  await database.close();
});

async function generate(type: string) {
  const response = await app.inject({
    method: 'POST',
    url: path,
    headers: bearer(admin),
    payload: {
      type,
      from: new Date(Date.now() - 48 * 3_600_000).toISOString(),
      to: new Date().toISOString(),
    },
  });
  assert.equal(response.statusCode, 201, response.body);
  return response.json() as {
    total_records: number;
    report_data: { rows: Record<string, unknown>[]; summary: Record<string, unknown> };
  };
}

test(`the seeded report re-verifies and counts the seed's one failed login (${testEngine})`, async () => {
  const list = await app.inject({
    method: 'GET',
    url: `${path}?type=login_failure_summary`,
    headers: bearer(admin),
  });
  const reports = (list.json() as { reports: { id: string; total_records: number; generated_by: string }[] })
    .reports;
  assert.equal(reports.length, 1);
  const [seeded] = reports;
  assert.equal(seeded?.total_records, 1);
  const verified = await app.inject({
    method: 'POST',
    url: `${path}/${seeded?.id}/verify`,
    headers: bearer(admin),
  });
  assert.equal((verified.json() as { valid: boolean }).valid, true);
  const fresh = await generate('login_failure_summary');
  assert.equal(fresh.total_records, 1);
  assert.deepEqual(fresh.report_data.summary, {
    failed_attempts: 1,
    blocked_attempts: 0,
    lockouts: 0,
    locked_users: 0,
  });
});

test(`the KYC and incident summaries count the seeded records (${testEngine})`, async () => {
  const kyc = await generate('kyc_status_summary');
  assert.equal(kyc.total_records, 5);
  assert.deepEqual(kyc.report_data.rows, [
    { tier_level: 1, status: 'approved', count: 1 },
    { tier_level: 1, status: 'expired', count: 1 },
    { tier_level: 1, status: 'pending', count: 1 },
    { tier_level: 2, status: 'approved', count: 1 },
    { tier_level: 2, status: 'rejected', count: 1 },
  ]);
  assert.equal(kyc.report_data.summary.approved_in_period, 2);
  assert.equal(kyc.report_data.summary.rejected_in_period, 1);
  const incidents = await generate('security_incident_summary');
  assert.equal(incidents.total_records, 1);
  assert.deepEqual(incidents.report_data.rows, [{ severity: 'high', status: 'investigating', count: 1 }]);
});
