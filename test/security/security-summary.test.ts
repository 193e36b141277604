import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { bearer, type LoggedIn, loginCustomer, loginStaff } from '../helpers/auth.ts';
import { createHarness, type Harness } from '../identity/harness.ts';

/* Issue 10 item 9: GET /v1/admin/security/summary answers the seeds' alerting queries. */

let harness: Harness;
let officer: LoggedIn;

before(async () => {
  harness = await createHarness();
  officer = await loginStaff(harness.app, 'officer');
});

after(async () => {
  await harness.close();
});

type Summary = {
  failed_logins_last_15_minutes: number;
  failed_logins_by_address_last_hour: { ip_address: string; failures: number }[];
  active_sessions: number;
  open_incidents_by_severity: { severity: string; incidents: number }[];
};

async function summary(): Promise<Summary> {
  const answer = await harness.app.inject({
    method: 'GET',
    url: '/v1/admin/security/summary',
    headers: bearer(officer),
  });
  assert.equal(answer.statusCode, 200, answer.body);
  return answer.json() as Summary;
}

test('failed logins are counted, per address too; sessions and open incidents appear', async () => {
  const before = await summary();
  for (let index = 0; index < 3; index += 1) {
    const failed = await harness.app.inject({
      method: 'POST',
      url: '/v1/admin/auth/login',
      remoteAddress: '198.51.100.33',
      payload: { email: `nobody-${index}@staff.test`, password: 'Wrong-Password-2026' },
    });
    assert.equal(failed.statusCode, 401, failed.body);
  }
  await loginCustomer(harness.app);
  const admin = await loginStaff(harness.app, 'admin');
  await harness.app.inject({
    method: 'POST',
    url: '/v1/admin/security/incidents',
    headers: bearer(admin),
    payload: { incident_type: 'summary', severity: 'critical', title: 'For the summary' },
  });
  const after = await summary();
  assert.equal(after.failed_logins_last_15_minutes - before.failed_logins_last_15_minutes, 3);
  assert.deepEqual(
    after.failed_logins_by_address_last_hour.find((row) => row.ip_address === '198.51.100.33'),
    { ip_address: '198.51.100.33', failures: 3 },
  );
  assert.ok(after.active_sessions >= before.active_sessions + 2);
  assert.ok(
    after.open_incidents_by_severity.some((row) => row.severity === 'critical' && row.incidents >= 1),
  );
  const customer = await loginCustomer(harness.app);
  const refused = await harness.app.inject({
    method: 'GET',
    url: '/v1/admin/security/summary',
    headers: bearer(customer),
  });
  assert.equal(refused.statusCode, 403);
});
