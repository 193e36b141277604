import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { AppInstance } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { bearer, type LoggedIn, type LoggedInCustomer, loginCustomer, loginStaff } from '../helpers/auth.ts';
import { documentedOperations, type OpenApiDocument, readOpenApiDocument } from '../helpers/openapi.ts';
import { hostileCursors } from '../helpers/openapi-fuzz.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

/**
 * Every paginated list of the API (issue 7, item 7: "fix every keyset query"), discovered from
 * /openapi.json — any GET with `cursor` and `limit` query parameters — is paged with limit=1 and with
 * limit=100: both must give the same rows in the same order, each once. A list added later is walked
 * without anyone listing it here; the fixture below must give it at least three rows.
 */
const config = loadConfig({ NODE_ENV: 'test' });
const rowsMin = 3;

let running: TestApp;
let app: AppInstance;
let document: OpenApiDocument;
let customer: LoggedInCustomer;
let staff: LoggedIn;

async function post(who: LoggedIn, url: string, payload: Record<string, unknown>): Promise<number> {
  const response = await app.inject({
    method: 'POST',
    url,
    headers: { ...bearer(who), 'idempotency-key': randomUUID() },
    payload,
  });
  assert.ok(response.statusCode < 300, `${url}: ${response.statusCode} ${response.body}`);
  return response.statusCode;
}

/** Rows for every list: statement entries, holds, users, KYC submissions, top-up approvals, compliance reports, … */
async function createFixture(): Promise<void> {
  customer = await loginCustomer(app);
  staff = await loginStaff(app, 'super_admin');
  for (let index = 0; index < rowsMin; index += 1) {
    await post(customer, '/v1/transactions/topup', { amount: 10_000 + index });
    await post(staff, '/v1/admin/holds', { user_id: customer.userId, amount: 100, reason: `check ${index}` });
    const submitter = index === 0 ? customer : await loginCustomer(app);
    await post(submitter, '/v1/kyc', {
      tier_level: 1,
      document_type: 'national_id',
      document_country: 'ID',
      document_number: `31740123456700${index}`,
    });
    // Above the approval threshold: a pending request, not a movement.
    assert.equal(
      await post(staff, `/v1/admin/users/${customer.userId}/topup`, { amount: 2_000_000_000 }),
      202,
    );
    await post(staff, '/v1/admin/security/indicators', {
      indicator_type: 'ip',
      indicator_value: `198.51.100.${10 + index}`,
      threat_type: 'scanner',
      severity: 'low',
    });
    await post(staff, '/v1/admin/legal-holds', { user_id: customer.userId, reason: `Case ${index}` });
    await post(staff, '/v1/admin/security/incidents', {
      incident_type: 'paging',
      severity: 'low',
      title: `Page ${index}`,
    });
    await post(staff, '/v1/admin/compliance/reports', {
      type: 'kyc_status_summary',
      from: new Date(Date.now() - 3_600_000).toISOString(),
      to: new Date().toISOString(),
    });
    await withScope(app.database.db, { tenantId: customer.tenantId }, (transaction) =>
      transaction
        .insertInto('threat_events')
        .values({ tenant_id: customer.tenantId, threat_type: 'paging', severity: 'low' })
        .execute(),
    );
    await withScope(app.database.db, { tenantId: customer.tenantId }, (transaction) =>
      transaction
        .insertInto('security_events')
        .values({
          tenant_id: customer.tenantId,
          event_type: 'PAGING',
          event_category: 'threat',
          severity: 'low',
        })
        .execute(),
    );
    await withScope(app.database.db, { tenantId: customer.tenantId }, async (transaction) => {
      await transaction
        .insertInto('rate_limit_violations')
        .values({
          tenant_id: customer.tenantId,
          ip_address: '203.0.113.9',
          endpoint: '/v1/me',
          request_count: 601,
          limit_threshold: 600,
          time_window_minutes: 1,
        })
        .execute();
      await transaction
        .insertInto('alert_deliveries')
        .values({
          tenant_id: customer.tenantId,
          sink: 'log',
          event_source: 'security_event',
          event_id: randomUUID(),
          event_created_at: new Date(),
          payload: { type: 'PAGING', severity: 'critical' },
        })
        .execute();
      await transaction
        .insertInto('login_audits')
        .values({
          tenant_id: customer.tenantId,
          user_id: customer.userId,
          login_type: 'user_login',
          status: 'success',
        })
        .execute();
    });
  }
}

before(async () => {
  running = await startTestApp(config);
  app = running.app;
  document = await readOpenApiDocument(app);
  await createFixture();
});

after(() => running.close());

/** The one array of a list response (`transactions`, `users`, …). */
function rowsOf(body: Record<string, unknown>): { id: string }[] {
  const arrays = Object.values(body).filter(Array.isArray);
  assert.equal(arrays.length, 1, `a list response has one array: ${Object.keys(body).join(', ')}`);
  return arrays[0] as { id: string }[];
}

/**
 * Lists that grow in the background while the walk runs: the access log is written in batches after
 * the responses, so the walk's own earlier requests can land between its two passes.
 */
const growingLists: ReadonlySet<string> = new Set(['/v1/admin/api-access-log']);

async function pageThrough(who: LoggedIn, path: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1000; page += 1) {
    const query: URLSearchParams = new URLSearchParams({
      limit: String(limit),
      ...(cursor ? { cursor } : {}),
    });
    const response = await app.inject({ method: 'GET', url: `${path}?${query}`, headers: bearer(who) });
    assert.equal(response.statusCode, 200, `${path}: ${response.body}`);
    const body = response.json() as Record<string, unknown>;
    const rows = rowsOf(body);
    assert.ok(rows.length <= limit, `${path} returned more than limit=${limit}`);
    ids.push(...rows.map((row) => row.id));
    cursor = body.next_cursor as string | null;
    if (cursor === null) return ids;
    assert.ok(rows.length === limit, `${path} returned a short page with a next cursor`);
  }
  assert.fail(`${path} did not end`);
}

test('every keyset-paginated list gives the same rows once each, in the same order, at limit=1 and limit=100', async () => {
  const lists = documentedOperations(document).filter(({ method, operation }) => {
    const names = new Set((operation.parameters ?? []).map((parameter) => parameter.name));
    return method === 'GET' && names.has('cursor') && names.has('limit');
  });
  assert.ok(lists.length >= 6, `found ${lists.length} paginated lists`);
  for (const { path } of lists) {
    const concrete = path.replace('{id}', customer.userId);
    const who = path.startsWith('/v1/admin/') ? staff : customer;
    const whole = await pageThrough(who, concrete, 100);
    assert.ok(whole.length >= rowsMin, `${path}: the fixture gives it only ${whole.length} rows`);
    assert.equal(new Set(whole).size, whole.length, `${path} repeats a row`);
    const paged = await pageThrough(who, concrete, 1);
    assert.equal(new Set(paged).size, paged.length, `${path} repeats a row at limit=1`);
    if (growingLists.has(path)) {
      // Rows flushed while the walk runs may appear; every row seen before must still come, in order.
      const known = new Set(whole);
      assert.deepEqual(
        paged.filter((id) => known.has(id)),
        whole,
        `${path} pages differently at limit=1`,
      );
    } else assert.deepEqual(paged, whole, `${path} pages differently at limit=1`);
  }
});

test('regression (issue 7 follow-up): a cursor that decodes to an impossible value (February 30, 25:61, month 13, a huge year, a non-uuid id, extra parts, wrong types, NUL, lone surrogates, garbage base64, overlong) is 400 on every list that takes one, never a 5xx', async () => {
  const lists = documentedOperations(document).filter(
    ({ method, operation }) =>
      method === 'GET' && (operation.parameters ?? []).some((parameter) => parameter.name === 'cursor'),
  );
  assert.ok(lists.length >= 6, `found ${lists.length} lists with a cursor`);
  const cursors = hostileCursors();
  for (const { path } of lists) {
    const concrete = path.replace('{id}', customer.userId);
    const who = path.startsWith('/v1/admin/') ? staff : customer;
    for (const cursor of cursors) {
      const response = await app.inject({
        method: 'GET',
        url: `${concrete}?limit=1&cursor=${cursor}`,
        headers: bearer(who),
      });
      const what = `${path} cursor=${cursor.slice(0, 60)}: ${response.statusCode} ${response.body.slice(0, 200)}`;
      assert.equal(response.statusCode, 400, what);
      const body = response.json() as { error: { code: string; details?: { field: string }[] } };
      assert.equal(body.error.code, 'VALIDATION_FAILED', what);
      assert.ok(
        body.error.details?.some((detail) => detail.field === 'querystring.cursor'),
        `${what}: the answer names querystring.cursor`,
      );
    }
    // A cursor this list issued still pages. A CSV export takes `rows` and names it in x-next-cursor.
    const csv = path.endsWith('/export');
    const size = csv ? 'rows=1' : 'limit=1';
    const first = await app.inject({ method: 'GET', url: `${concrete}?${size}`, headers: bearer(who) });
    const next = csv
      ? (first.headers['x-next-cursor'] as string | undefined)
      : (first.json() as { next_cursor: string | null }).next_cursor;
    assert.ok(next, `${path} gives a next cursor`);
    const second = await app.inject({
      method: 'GET',
      url: `${concrete}?${size}&cursor=${next}`,
      headers: bearer(who),
    });
    assert.equal(second.statusCode, 200, `${path}: ${second.body}`);
  }
});
