import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { withScope } from '../../src/db/tenant-transaction.ts';
import {
  bearer,
  ensureTenant,
  type LoggedIn,
  loginCustomer,
  loginStaff,
  randomAccountNumber,
  randomPhone,
  registerEmailCustomer,
  testMotherName,
  testPin,
} from '../helpers/auth.ts';
import { answerCode } from '../helpers/responses.ts';
import { createHarness, type Harness } from '../identity/harness.ts';

/*
 * Issue 10 item 5: indicators (ip single or CIDR, IPv4 and IPv6, domain, email, hash) managed by
 * staff, bulk-imported with a per-row report, and checked on login, registration and money
 * movement: a high or critical hit denies and records a security event.
 */

let harness: Harness;
let admin: LoggedIn;

before(async () => {
  harness = await createHarness();
  admin = await loginStaff(harness.app, 'admin');
});

after(async () => {
  await harness.close();
});

function addIndicator(payload: Record<string, unknown>) {
  return harness.app.inject({
    method: 'POST',
    url: '/v1/admin/security/indicators',
    headers: bearer(admin),
    payload,
  });
}

function bankingLogin(remoteAddress: string) {
  return harness.app.inject({
    method: 'POST',
    url: '/v1/auth/banking/login',
    remoteAddress,
    payload: {
      name: 'Indicator Test',
      phone: randomPhone(),
      account_number: randomAccountNumber(),
      mother_name: testMotherName,
      pin: testPin,
      device: { type: 'android', id: `device-${Date.now()}`, name: 'Phone' },
    },
  });
}

describe('threat intelligence', () => {
  test('an IP indicator of high severity denies a login from it and records a security event', async () => {
    const created = await addIndicator({
      indicator_type: 'ip',
      indicator_value: '198.51.100.7',
      threat_type: 'brute_force',
      severity: 'high',
    });
    assert.equal(created.statusCode, 201, created.body);
    const refused = await bankingLogin('198.51.100.7');
    assert.equal(refused.statusCode, 403, refused.body);
    assert.equal(answerCode(refused), 'REQUEST_BLOCKED');
    assert.equal(
      (await bankingLogin('198.51.100.8')).statusCode,
      200,
      'a neighbouring address still logs in',
    );
    const events = await harness.app.inject({
      method: 'GET',
      url: '/v1/admin/security/events?event_type=THREAT_INTEL_MATCH&ip=198.51.100.7',
      headers: bearer(admin),
    });
    const items = (
      events.json() as { items: { action_taken: string; severity: string; risk_score: number }[] }
    ).items;
    assert.equal(items.length, 1, events.body);
    assert.deepEqual(
      [items[0]?.action_taken, items[0]?.severity, items[0]?.risk_score],
      ['deny', 'high', 80],
    );
  });

  test('a CIDR indicator (IPv4 and IPv6) covers every address in it; deactivating it lets them in', async () => {
    const v4 = await addIndicator({
      indicator_type: 'ip',
      indicator_value: '192.0.2.0/24',
      threat_type: 'botnet',
      severity: 'critical',
    });
    const v6 = await addIndicator({
      indicator_type: 'ip',
      indicator_value: '2001:DB8::/32',
      threat_type: 'botnet',
      severity: 'critical',
    });
    assert.equal(v6.json().indicator_value, '2001:db8::/32', 'stored in canonical form');
    assert.equal((await bankingLogin('192.0.2.200')).statusCode, 403);
    assert.equal((await bankingLogin('2001:db8:1::5')).statusCode, 403);
    assert.equal(
      (await bankingLogin('::ffff:192.0.2.9')).statusCode,
      403,
      'an IPv4-mapped client is covered',
    );
    for (const created of [v4, v6]) {
      const off = await harness.app.inject({
        method: 'PATCH',
        url: `/v1/admin/security/indicators/${created.json().id}`,
        headers: bearer(admin),
        payload: { is_active: false },
      });
      assert.equal(off.statusCode, 200, off.body);
    }
    assert.equal((await bankingLogin('192.0.2.200')).statusCode, 200);
    assert.equal((await bankingLogin('2001:db8:1::5')).statusCode, 200);
  });

  test('a low-severity indicator lets the request through and records it (action allow)', async () => {
    await addIndicator({
      indicator_type: 'ip',
      indicator_value: '203.0.113.201',
      threat_type: 'scanner',
      severity: 'low',
    });
    assert.equal((await bankingLogin('203.0.113.201')).statusCode, 200);
    const events = await harness.app.inject({
      method: 'GET',
      url: '/v1/admin/security/events?event_type=THREAT_INTEL_MATCH&ip=203.0.113.201',
      headers: bearer(admin),
    });
    assert.equal((events.json() as { items: { action_taken: string }[] }).items[0]?.action_taken, 'allow');
  });

  test('a login let through on a low-severity indicator is scored with the hit; one from a clean address is not', async () => {
    await addIndicator({
      indicator_type: 'ip',
      indicator_value: '203.0.113.202',
      threat_type: 'scanner',
      severity: 'low',
    });
    const password = 'A-Long-Enough-Passphrase-2026';
    const { email, userId } = await registerEmailCustomer(harness.app, password);
    for (const remoteAddress of ['203.0.113.202', '198.51.100.202']) {
      const login = await harness.app.inject({
        method: 'POST',
        url: '/v1/auth/email/login',
        remoteAddress,
        payload: { email, password },
      });
      assert.equal(login.statusCode, 200, login.body);
    }
    const tenantId = await ensureTenant(harness.app);
    const rows = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('security_events')
        .select(['ip_address', 'risk_score', 'details'])
        .where('user_id', '=', userId)
        .where('event_type', '=', 'USER_LOGIN_SUCCESS')
        .orderBy('created_at')
        .execute(),
    );
    const hit = (row: (typeof rows)[number] | undefined) =>
      (row?.details as { signals?: { indicatorHit?: boolean } } | null)?.signals?.indicatorHit;
    assert.equal(rows.length, 2);
    assert.equal(hit(rows[0]), true, 'the indicator address');
    assert.ok(Number(rows[0]?.risk_score) >= 40, `risk ${rows[0]?.risk_score}`);
    assert.equal(hit(rows[1]), false, 'the clean address');
    assert.ok(Number(rows[1]?.risk_score) < 40, `risk ${rows[1]?.risk_score}`);
  });

  test('an email-domain indicator refuses an email registration from that domain', async () => {
    await addIndicator({
      indicator_type: 'domain',
      indicator_value: 'Evil.Example',
      threat_type: 'fraud',
      severity: 'high',
    });
    const refused = await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/email/register',
      payload: { email: `someone@evil.example`, password: 'A-Long-Enough-Passphrase-2026', name: 'Someone' },
    });
    assert.equal(refused.statusCode, 403, refused.body);
    assert.equal(answerCode(refused), 'REQUEST_BLOCKED');
  });

  test('bad indicators are 400 naming the field; a customer may not manage indicators', async () => {
    for (const [payload, field] of [
      [
        { indicator_type: 'ip', indicator_value: '300.1.1.1', threat_type: 'x', severity: 'high' },
        'body.indicator_value',
      ],
      [
        { indicator_type: 'ip', indicator_value: '10.0.0.0/40', threat_type: 'x', severity: 'high' },
        'body.indicator_value',
      ],
      [
        { indicator_type: 'hash', indicator_value: 'abc', threat_type: 'x', severity: 'high' },
        'body.indicator_value',
      ],
      [
        { indicator_type: 'email', indicator_value: 'no-at-sign', threat_type: 'x', severity: 'high' },
        'body.indicator_value',
      ],
    ] as const) {
      const answer = await addIndicator(payload);
      assert.equal(answer.statusCode, 400, answer.body);
      assert.equal(
        (answer.json() as { error: { details: { field: string }[] } }).error.details[0]?.field,
        field,
      );
    }
    const customer = await loginCustomer(harness.app);
    const refused = await harness.app.inject({
      method: 'POST',
      url: '/v1/admin/security/indicators',
      headers: bearer(customer),
      payload: { indicator_type: 'ip', indicator_value: '10.1.1.1', threat_type: 'x', severity: 'high' },
    });
    assert.equal(refused.statusCode, 403);
  });

  test('a CSV import writes the valid rows and reports each invalid one by row and field', async () => {
    const csv = [
      'indicator_type,indicator_value,threat_type,severity,confidence,source',
      'ip,198.18.0.1,scanner,medium,70,feed-a',
      'ip,not-an-ip,scanner,medium,70,feed-a',
      'email,Fraudster@Example.com,fraud,high,90,feed-a',
      `hash,${'a'.repeat(64)},malware,critical,,feed-a`,
      'ip,198.18.0.1,scanner,medium,70,feed-a',
      'domain,example.org,phishing,urgent,10,feed-a',
      'ip,198.18.0.2,scanner,low,101,feed-a',
    ].join('\n');
    const answer = await harness.app.inject({
      method: 'POST',
      url: '/v1/admin/security/indicators/import',
      headers: bearer(admin),
      payload: { format: 'csv', csv },
    });
    assert.equal(answer.statusCode, 200, answer.body);
    const result = answer.json() as {
      imported: number;
      rejected: number;
      errors: { row: number; field: string }[];
    };
    assert.equal(result.imported, 3);
    assert.deepEqual(
      result.errors.map((error) => [error.row, error.field]),
      [
        [2, 'indicator_value'],
        [5, 'indicator_value'],
        [6, 'severity'],
        [7, 'confidence'],
      ],
    );
    const listed = await harness.app.inject({
      method: 'GET',
      url: '/v1/admin/security/indicators?indicator_type=email',
      headers: bearer(admin),
    });
    const values = (listed.json() as { indicators: { indicator_value: string }[] }).indicators.map(
      (i) => i.indicator_value,
    );
    assert.ok(values.includes('fraudster@example.com'), values.join(','));
    // A second import of the same rows refreshes them instead of failing or duplicating.
    const again = await harness.app.inject({
      method: 'POST',
      url: '/v1/admin/security/indicators/import',
      headers: bearer(admin),
      payload: {
        format: 'json',
        indicators: [
          {
            indicator_type: 'ip',
            indicator_value: '198.18.0.1',
            threat_type: 'scanner',
            severity: 'high',
            source: 'feed-a',
          },
        ],
      },
    });
    assert.equal((again.json() as { imported: number }).imported, 1, again.body);
    const unreadable = await harness.app.inject({
      method: 'POST',
      url: '/v1/admin/security/indicators/import',
      headers: bearer(admin),
      payload: { format: 'csv', csv: 'indicator_type,indicator_value\n"unterminated' },
    });
    assert.equal(unreadable.statusCode, 400, unreadable.body);
  });

  test("one tenant's indicators do not apply to another tenant", async () => {
    const otherTenant = await ensureTenant(harness.app, `other-${Date.now()}`);
    await addIndicator({
      indicator_type: 'ip',
      indicator_value: '198.51.100.99',
      threat_type: 'x',
      severity: 'critical',
    });
    const login = await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/banking/login',
      remoteAddress: '198.51.100.99',
      headers: { 'x-tenant-id': otherTenant },
      payload: {
        name: 'Other Tenant',
        phone: randomPhone(),
        account_number: randomAccountNumber(),
        mother_name: testMotherName,
        pin: testPin,
        device: { type: 'android', id: 'device-other', name: 'Phone' },
      },
    });
    assert.equal(login.statusCode, 200, login.body);
  });

  test('regression (issue 10 review): two overlapping imports at once both succeed instead of deadlocking', async () => {
    const rows = Array.from({ length: 400 }, (_, index) => ({
      indicator_type: 'ip',
      indicator_value: `100.64.${Math.floor(index / 250)}.${index % 250}`,
      threat_type: 'scanner',
      severity: 'low',
      source: 'overlap',
    }));
    const send = (indicators: typeof rows) =>
      harness.app.inject({
        method: 'POST',
        url: '/v1/admin/security/indicators/import',
        headers: bearer(admin),
        payload: { format: 'json', indicators },
      });
    // The same rows in opposite orders: unsorted upserts lock them in opposite orders.
    const answers = await Promise.all([send(rows), send([...rows].reverse()), send(rows.slice(100))]);
    assert.deepEqual(
      answers.map((answer) => answer.statusCode),
      [200, 200, 200],
      answers.map((answer) => answer.body.slice(0, 200)).join(' | '),
    );
  });
});
