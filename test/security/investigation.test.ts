import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { bearer, ensureTenant, type LoggedIn, loginCustomer, loginStaff } from '../helpers/auth.ts';
import { answerCode } from '../helpers/responses.ts';
import { createHarness, type Harness } from '../identity/harness.ts';

/*
 * Issue 10 items 7 and 8: every request lands in the API access log; staff investigate the logs with
 * filters, keyset pages and CSV; a customer reads only their own history, kept to it by row-level
 * security and not only by a WHERE clause.
 */

let harness: Harness;
let tenantId: string;

before(async () => {
  harness = await createHarness({ ACCESS_LOG_FLUSH_INTERVAL_MS: '20' });
  tenantId = await ensureTenant(harness.app);
});

after(async () => {
  await harness.close();
});

function get(login: Pick<LoggedIn, 'accessToken'>, url: string) {
  return harness.app.inject({ method: 'GET', url, headers: bearer(login) });
}

type Page = { items: Record<string, unknown>[]; next_cursor: string | null };

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    const value = await read();
    if (done(value) || attempt > 100) return value;
    await sleep(30);
  }
}

describe('investigation lists', () => {
  test('a customer reads their own login history and nobody else’s, even with a crafted filter', async () => {
    const alice = await loginCustomer(harness.app);
    const bob = await loginCustomer(harness.app);
    const own = (await get(alice, '/v1/me/login-history')).json() as Page;
    assert.ok(own.items.length >= 1, JSON.stringify(own));
    for (const item of own.items) assert.ok(!('user_id' in item), 'own rows do not repeat the user');
    const bobs = (await get(bob, '/v1/me/login-history')).json() as Page;
    const aliceIds = new Set(own.items.map((item) => item.id));
    assert.ok(bobs.items.length >= 1);
    assert.ok(
      bobs.items.every((item) => !aliceIds.has(item.id)),
      'Bob sees none of Alice’s rows',
    );
    // Unknown query parameters are dropped (the API's rule for query strings): Bob still reads his own.
    const crafted = (await get(bob, `/v1/me/login-history?user_id=${alice.userId}`)).json() as Page;
    assert.ok(crafted.items.length >= 1);
    assert.ok(
      crafted.items.every((item) => !aliceIds.has(item.id)),
      'a crafted filter reads none of Alice’s rows',
    );
  });

  test('row-level security, not only the WHERE clause, hides another user’s login audits and audit rows', async () => {
    const alice = await loginCustomer(harness.app);
    const bob = await loginCustomer(harness.app);
    const seen = await withScope(
      harness.database.db,
      { tenantId, userId: bob.userId },
      async (transaction) => ({
        logins: await transaction
          .selectFrom('login_audits')
          .select('id')
          .where('user_id', '=', alice.userId)
          .execute(),
        audits: await transaction
          .selectFrom('audit_logs')
          .select('id')
          .where('user_id', '=', alice.userId)
          .execute(),
        events: await transaction
          .selectFrom('security_events')
          .select('id')
          .where('user_id', '=', alice.userId)
          .execute(),
      }),
    );
    assert.deepEqual(seen, { logins: [], audits: [], events: [] });
    const asTenant = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction.selectFrom('login_audits').select('id').where('user_id', '=', alice.userId).execute(),
    );
    assert.ok(asTenant.length >= 1, 'the tenant scope (staff) does see them');
  });

  test('staff list login audits filtered by user; customers get 403 on every staff list', async () => {
    const customer = await loginCustomer(harness.app);
    const officer = await loginStaff(harness.app, 'officer');
    const page = (await get(officer, `/v1/admin/login-audits?user_id=${customer.userId}`)).json() as Page;
    assert.ok(page.items.length >= 1, JSON.stringify(page));
    assert.ok(page.items.every((item) => item.user_id === customer.userId));
    for (const path of [
      'audit-logs',
      'login-audits',
      'security/events',
      'api-access-log',
      'rate-limit-violations',
    ]) {
      const refused = await get(customer, `/v1/admin/${path}`);
      assert.equal(refused.statusCode, 403, `${path}: ${refused.body}`);
      assert.ok(!refused.body.includes('items'));
    }
  });

  test('limit=1 pages through the audit log with no row skipped or repeated', async () => {
    const officer = await loginStaff(harness.app, 'officer');
    for (let index = 0; index < 3; index += 1) await loginCustomer(harness.app);
    const full = (await get(officer, '/v1/admin/audit-logs?limit=100')).json() as Page;
    const wanted = full.items.slice(0, 8).map((item) => item.id);
    const paged: unknown[] = [];
    let cursor: string | null = null;
    while (paged.length < wanted.length) {
      const url: string = `/v1/admin/audit-logs?limit=1${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await get(officer, url)).json() as Page;
      paged.push(...page.items.map((item) => item.id));
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    assert.deepEqual(paged, wanted);
  });

  test('the ip filter takes an address or a CIDR range and answers 400 for anything else', async () => {
    const officer = await loginStaff(harness.app, 'officer');
    const byRange = (await get(officer, '/v1/admin/login-audits?ip=127.0.0.0/8')).json() as Page;
    assert.ok(byRange.items.length >= 1);
    const elsewhere = (await get(officer, '/v1/admin/login-audits?ip=10.9.8.7')).json() as Page;
    assert.equal(elsewhere.items.length, 0);
    for (const bad of ['999.1.1.1', '10.0.0.0/33', '::1/129', '1.2.3.4/8/8', 'abc']) {
      const refused = await get(officer, `/v1/admin/login-audits?ip=${encodeURIComponent(bad)}`);
      assert.equal(refused.statusCode, 400, `${bad}: ${refused.body}`);
      assert.equal(answerCode(refused), 'VALIDATION_FAILED');
    }
  });
});

describe('the API access log', () => {
  test('every request of a burst is logged, with whitelisted headers and no credential', async () => {
    const officer = await loginStaff(harness.app, 'officer');
    const marker = `burst-${Date.now()}`;
    const burst = await Promise.all(
      Array.from({ length: 40 }, (_, index) =>
        harness.app.inject({
          method: 'GET',
          url: '/health',
          headers: { 'user-agent': `${marker}-${index}` },
        }),
      ),
    );
    const ids = new Set(burst.map((response) => String(response.headers['x-request-id'])));
    const page = await eventually(
      async () => (await get(officer, '/v1/admin/api-access-log?endpoint=/health&limit=100')).json() as Page,
      (value) => value.items.filter((item) => ids.has(String(item.request_id))).length === ids.size,
    );
    const logged = page.items.filter((item) => ids.has(String(item.request_id)));
    assert.equal(logged.length, 40);
    for (const item of logged) {
      assert.equal(item.method, 'GET');
      assert.equal(item.response_status, 200);
      assert.ok(String(item.user_agent).startsWith(marker));
    }
    const own = await eventually(
      async () => (await get(officer, `/v1/admin/api-access-log?user_id=${officer.userId}`)).json() as Page,
      (value) => value.items.length > 0,
    );
    const text = JSON.stringify(own);
    assert.ok(!text.includes(officer.accessToken) && !/authorization/i.test(text), 'no bearer token logged');
  });

  test('regression: a NUL in a header no longer poisons the access log batch; the request is logged with U+FFFD', async () => {
    const officer = await loginStaff(harness.app, 'officer');
    const marker = `nul-${Date.now()}`;
    const hostile = await harness.app.inject({
      method: 'GET',
      url: '/health',
      headers: { 'user-agent': `${marker}\u0000agent`, accept: 'x\ud800y' },
    });
    const requestId = String(hostile.headers['x-request-id']);
    const after = await harness.app.inject({ method: 'GET', url: '/health' });
    const laterId = String(after.headers['x-request-id']);
    const page = await eventually(
      async () => (await get(officer, '/v1/admin/api-access-log?endpoint=/health&limit=100')).json() as Page,
      (value) => value.items.some((item) => item.request_id === laterId),
    );
    const row = page.items.find((item) => item.request_id === requestId);
    assert.equal(row?.user_agent, `${marker}\ufffdagent`);
    assert.ok(
      page.items.some((item) => item.request_id === laterId),
      'later requests are still written',
    );
  });

  test('regression: a transfer (session checked in its own statement) is logged under its tenant and user, not the default tenant', async () => {
    const officer = await loginStaff(harness.app, 'officer');
    const customer = await loginCustomer(harness.app);
    const transfer = await harness.app.inject({
      method: 'POST',
      url: '/v1/transactions/transfer',
      headers: {
        ...bearer(customer),
        'idempotency-key': `k-${Date.now()}`,
        referer: 'https://bank.example/reset?token=secret-token-value',
      },
      payload: { to_account_number: '9999999999', amount: 1 },
    });
    assert.ok(transfer.statusCode >= 400, transfer.body);
    const page = await eventually(
      async () => (await get(officer, `/v1/admin/api-access-log?user_id=${customer.userId}`)).json() as Page,
      (value) => value.items.some((item) => item.endpoint === '/v1/transactions/transfer'),
    );
    const row = page.items.find((item) => item.endpoint === '/v1/transactions/transfer');
    assert.ok(row, JSON.stringify(page));
    const headers = row.request_headers as Record<string, string>;
    assert.equal(headers.referer, 'https://bank.example', 'only the origin of a Referer is kept');
    assert.ok(!JSON.stringify(row).includes('secret-token-value'));
  });

  test('a login body is not hashed (a hash of a PIN is an oracle); other bodies are', async () => {
    const officer = await loginStaff(harness.app, 'officer');
    await loginCustomer(harness.app);
    const page = await eventually(
      async () =>
        (
          await get(officer, '/v1/admin/api-access-log?endpoint=/v1/auth/banking/login&limit=5')
        ).json() as Page,
      (value) => value.items.length > 0,
    );
    assert.ok(
      page.items.every((item) => item.request_body_hash === null),
      JSON.stringify(page.items[0]),
    );
  });

  test('entries still queued are written when the app closes (graceful shutdown loses none)', async () => {
    const local = await createHarness({ ACCESS_LOG_FLUSH_INTERVAL_MS: '60000' });
    const localTenant = await ensureTenant(local.app);
    const responses = await Promise.all(
      Array.from({ length: 25 }, () => local.app.inject({ method: 'GET', url: '/health' })),
    );
    const ids = responses.map((response) => String(response.headers['x-request-id']));
    await local.app.close();
    const rows = await withScope(local.database.db, { tenantId: localTenant }, (transaction) =>
      transaction.selectFrom('api_access_log').select('request_id').where('request_id', 'in', ids).execute(),
    );
    await local.database.close();
    assert.equal(rows.length, 25);
  });

  test('the CSV export has a header row and defuses spreadsheet formulas', async () => {
    const officer = await loginStaff(harness.app, 'officer');
    const injected = await harness.app.inject({
      method: 'GET',
      url: '/health',
      headers: { 'user-agent': '=HYPERLINK("x")' },
    });
    const requestId = String(injected.headers['x-request-id']);
    const exported = await eventually(
      () => get(officer, `/v1/admin/api-access-log/export?request_id=${requestId}`),
      (response) => response.body.split('\n').filter(Boolean).length >= 2,
    );
    assert.equal(exported.statusCode, 200, exported.body);
    assert.match(String(exported.headers['content-type']), /^text\/csv/);
    const [header, row] = exported.body.split('\n');
    assert.ok(header?.startsWith('id,created_at,user_id,request_id,method,endpoint'), header);
    assert.ok(row?.includes(`"'=HYPERLINK(""x"")"`), row);
  });
});

describe('resolving security events', () => {
  test('an analyst resolves an event once; a second resolution is 409, an unknown id 404, a customer 403', async () => {
    const admin = await loginStaff(harness.app, 'admin');
    const customer = await loginCustomer(harness.app);
    const event = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .insertInto('security_events')
        .values({ tenant_id: tenantId, event_type: 'TEST_EVENT', event_category: 'threat', severity: 'high' })
        .returning('id')
        .executeTakeFirstOrThrow(),
    );
    const url = `/v1/admin/security/events/${event.id}/resolve`;
    const payload = { false_positive: true, notes: 'Known scanner of the bank' };
    const asCustomer = await harness.app.inject({ method: 'POST', url, headers: bearer(customer), payload });
    assert.equal(asCustomer.statusCode, 403);
    const first = await harness.app.inject({ method: 'POST', url, headers: bearer(admin), payload });
    assert.equal(first.statusCode, 204, first.body);
    const second = await harness.app.inject({ method: 'POST', url, headers: bearer(admin), payload });
    assert.equal(second.statusCode, 409, second.body);
    const unknown = await harness.app.inject({
      method: 'POST',
      url: '/v1/admin/security/events/0190c6a2-0000-7000-8000-000000000000/resolve',
      headers: bearer(admin),
      payload,
    });
    assert.equal(unknown.statusCode, 404, unknown.body);
    const listed = (
      await get(admin, '/v1/admin/security/events?event_type=TEST_EVENT&is_resolved=true')
    ).json() as Page;
    const row = listed.items.find((item) => item.id === event.id);
    assert.equal(row?.false_positive, true);
    assert.equal(row?.resolved_by, admin.userId);
    assert.equal(row?.analyst_notes, payload.notes);
    const audit = (await get(admin, `/v1/admin/audit-logs?entity_id=${event.id}`)).json() as Page;
    assert.equal(audit.items[0]?.action, 'mark_false_positive');
  });
});
