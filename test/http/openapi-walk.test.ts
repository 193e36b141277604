import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import type { InjectOptions } from 'light-my-request';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { type ErrorCode, errorCatalog } from '../../src/platform/errors.ts';
import { bearer, ensureTenant, type LoggedIn, loginCustomer, loginStaff } from '../helpers/auth.ts';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';
import {
  type DocumentedOperation,
  documentedOperations,
  type JsonSchema,
  type OpenApiDocument,
  readOpenApiDocument,
  requestBodySchema,
  resolveSchema,
  schemaType,
} from '../helpers/openapi.ts';
import {
  buildRequest,
  hostileBodies,
  hostileHeaderValues,
  hostileJsonValues,
  hostilePathValues,
  hostileQueryParameterValues,
  type RequestParts,
  sampleParts,
  sampleValue,
  type WalkRequest,
} from '../helpers/openapi-fuzz.ts';

/**
 * The fuzz walk (issue 7 items 11 and 12): every operation of /openapi.json, discovered from the
 * document (a route added later is walked without anyone listing it), with hostile values in every
 * parameter and body field its schema names, each without a token, with a customer's and with a staff
 * token. Asserted on every answer: no 5xx; every non-2xx has exactly the error shape with the request
 * id, and a code the operation documents; a rejected request that never reached a handler changes
 * nothing in the database; and a path id that names nothing the caller may see is never a 2xx.
 */
let app: AppInstance;
let database: TestDatabase;
let document: OpenApiDocument;
let operations: DocumentedOperation[];

interface Principal {
  name: 'anonymous' | 'customer' | 'staff';
  login: LoggedIn | undefined;
}
let customer: Principal;
let staff: Principal;
const anonymous: Principal = { name: 'anonymous', login: undefined };

/** Ids of things the walking customer and staff member must not reach (another user, another tenant). */
interface ForeignIds {
  forCustomer: string[];
  forStaff: string[];
}
let foreign: ForeignIds;

const failures: string[] = [];
let requestCount = 0;

before(async () => {
  database = await openTestDatabase();
  const config = loadConfig({ NODE_ENV: 'test', LOGIN_IP_FAILURES_MAX: '100000' });
  app = await buildApp({ config, database, logger: false });
  await app.ready();
  await ensureTenant(app);
  document = await readOpenApiDocument(app);
  operations = documentedOperations(document);
  customer = { name: 'customer', login: await loginCustomer(app) };
  staff = { name: 'staff', login: await loginStaff(app, 'super_admin') };
  foreign = await createForeignEntities();
});

after(async () => {
  await app.close();
  await database.close();
});

async function inject(options: InjectOptions): Promise<LightMyRequestResponse> {
  return app.inject(options);
}

async function expectStatus(response: LightMyRequestResponse, status: number, what: string): Promise<void> {
  assert.equal(response.statusCode, status, `${what}: ${response.body}`);
}

/** Entities of another customer (same tenant) and of another tenant, created through the API. */
async function createForeignEntities(): Promise<ForeignIds> {
  const staffLogin = staff.login as LoggedIn;
  const other = await loginCustomer(app);
  const otherTenantId = await ensureTenant(app, 'walk-other-tenant');
  const otherTenantCustomer = await loginCustomer(app, { tenantId: otherTenantId });
  const otherTenantStaff = await loginStaff(app, 'super_admin', { tenantId: otherTenantId });
  const sameTenant = await entitiesOf(other, staffLogin);
  const otherTenant = await entitiesOf(otherTenantCustomer, otherTenantStaff);
  return { forCustomer: [...sameTenant, ...otherTenant], forStaff: otherTenant };
}

/** A customer's user, session, bank account, withdrawal, KYC record and a staff hold on them. */
async function entitiesOf(owner: LoggedIn, staffLogin: LoggedIn): Promise<string[]> {
  const headers = { ...bearer(owner), 'x-tenant-id': owner.tenantId };
  const staffHeaders = { ...bearer(staffLogin), 'x-tenant-id': staffLogin.tenantId };
  const topup = await inject({
    method: 'POST',
    url: `/v1/admin/users/${owner.userId}/topup`,
    headers: staffHeaders,
    payload: { amount: 1_000_000 },
  });
  await expectStatus(topup, 201, 'staff top-up');
  const account = await inject({
    method: 'POST',
    url: '/v1/bank-accounts',
    headers,
    payload: { account_number: `01400${String(Date.now()).slice(-8)}`, account_name: 'Walk Owner' },
  });
  await expectStatus(account, 201, 'bank account');
  const bankAccountId = (account.json() as { id: string }).id;
  const withdrawal = await inject({
    method: 'POST',
    url: '/v1/transactions/withdraw',
    headers,
    payload: { amount: 10_000, bank_account_id: bankAccountId },
  });
  await expectStatus(withdrawal, 202, 'withdrawal');
  const kyc = await inject({
    method: 'POST',
    url: '/v1/kyc',
    headers,
    payload: {
      tier_level: 1,
      document_type: 'national_id',
      document_country: 'ID',
      document_number: '31740123',
    },
  });
  await expectStatus(kyc, 201, 'KYC submission');
  const hold = await inject({
    method: 'POST',
    url: '/v1/admin/holds',
    headers: staffHeaders,
    payload: { user_id: owner.userId, amount: 1000, reason: 'walk review' },
  });
  await expectStatus(hold, 201, 'hold');
  const withdrawalBody = withdrawal.json() as { operation_id: string; hold_id: string };
  return [
    owner.userId,
    owner.sessionId,
    bankAccountId,
    withdrawalBody.operation_id,
    withdrawalBody.hold_id,
    (kyc.json() as { id: string }).id,
    (hold.json() as { id: string }).id,
  ];
}

/** Counts and sums of everything a request could change; superuser reads see every tenant. */
async function snapshot(): Promise<string> {
  const { rows } = await sql<Record<string, unknown>>`select
      (select count(*) from transactions) as ledger_entries,
      (select count(*) || ':' || coalesce(sum(abs(balance)), 0) || ':' || coalesce(sum(locked), 0) from wallets) as wallets,
      (select count(*) || ':' || count(*) filter (where status = 'active') from balance_holds) as holds,
      (select count(*) from users) as users,
      (select coalesce(sum(failed_login_attempts), 0) from users) as failed_logins,
      (select count(*) from login_audits) as login_audits,
      (select count(*) from audit_logs) as audit_rows,
      (select count(*) from otp_sessions) as otp_sessions,
      (select count(*) from bank_accounts) as bank_accounts,
      (select count(*) from operations) as operations,
      (select count(*) from kyc_records) as kyc_records,
      (select count(*) from refresh_tokens) as refresh_tokens`.execute(database.db);
  return JSON.stringify(rows[0]);
}

/** Codes answered before any handler runs: such a request must leave the database as it was. */
const refusedBeforeHandler = new Set<ErrorCode>([
  'VALIDATION_FAILED',
  'MALFORMED_JSON',
  'BAD_REQUEST',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'URI_TOO_LONG',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'ROUTE_NOT_FOUND',
]);

function fail(entry: DocumentedOperation, principal: Principal, request: WalkRequest, problem: string): void {
  if (failures.length < 200)
    failures.push(`${entry.method} ${entry.path} [${principal.name}] ${request.label}: ${problem}`);
}

/** Checks one answer; returns its error code (undefined for a 2xx). */
function checkAnswer(
  entry: DocumentedOperation,
  principal: Principal,
  request: WalkRequest,
  response: LightMyRequestResponse,
): ErrorCode | undefined {
  const status = response.statusCode;
  if (status >= 500) fail(entry, principal, request, `answered ${status} ${response.body.slice(0, 300)}`);
  if (status < 400) return undefined;
  let body: { error?: Record<string, unknown> };
  try {
    body = response.json();
  } catch {
    fail(entry, principal, request, `non-JSON ${status} answer: ${response.body.slice(0, 200)}`);
    return undefined;
  }
  const error = body.error;
  const keys = error ? Object.keys(error).sort() : [];
  const expected = [
    'code',
    'message',
    'request_id',
    ...(error && 'details' in error ? ['details'] : []),
  ].sort();
  if (Object.keys(body).length !== 1 || !error || JSON.stringify(keys) !== JSON.stringify(expected)) {
    fail(entry, principal, request, `not the error shape: ${response.body.slice(0, 200)}`);
    return undefined;
  }
  const code = error.code as ErrorCode;
  if (!(code in errorCatalog)) fail(entry, principal, request, `code ${String(code)} is not in the catalog`);
  else if (errorCatalog[code].status !== status)
    fail(entry, principal, request, `${code} answered with ${status}, not its catalog status`);
  if (error.request_id !== response.headers['x-request-id'] || typeof error.request_id !== 'string')
    fail(entry, principal, request, 'request_id does not match the x-request-id header');
  if (!(entry.operation['x-error-codes'] ?? []).includes(code))
    fail(entry, principal, request, `answered ${code}, which the operation does not document`);
  return code;
}

async function send(
  entry: DocumentedOperation,
  principal: Principal,
  request: WalkRequest,
): Promise<{ response: LightMyRequestResponse; code: ErrorCode | undefined }> {
  const headers = { ...request.headers, ...(principal.login ? bearer(principal.login) : {}) };
  const response = await inject({
    method: request.method as 'GET',
    url: request.url,
    headers,
    ...(request.payload === undefined ? {} : { payload: request.payload }),
  });
  requestCount += 1;
  return { response, code: checkAnswer(entry, principal, request, response) };
}

/** Requests between two snapshots: a snapshot per request would double the walk's run time. */
const snapshotChunkSize = 8;

/**
 * Sends the requests in chunks; for a mutating operation, a chunk whose every answer was refused
 * before any handler ran must leave the database exactly as it found it. (A chunk with any other
 * answer, e.g. a 2xx for a variant that is valid, is not compared: its change is legitimate.)
 */
async function sendAll(
  entry: DocumentedOperation,
  principal: Principal,
  requests: WalkRequest[],
): Promise<void> {
  for (let start = 0; start < requests.length; start += snapshotChunkSize) {
    const chunk = requests.slice(start, start + snapshotChunkSize);
    const before = isMutating(entry.method) ? await snapshot() : undefined;
    const codes: (ErrorCode | undefined)[] = [];
    for (const request of chunk) codes.push((await send(entry, principal, request)).code);
    if (before === undefined || !codes.every((code) => code !== undefined && refusedBeforeHandler.has(code)))
      continue;
    const after = await snapshot();
    if (after !== before) {
      const labels = chunk.map((request) => request.label).join(' | ');
      fail(
        entry,
        principal,
        chunk[0] as WalkRequest,
        `refused requests changed the database (${labels}): ${before} → ${after}`,
      );
    }
  }
}

interface BodyField {
  path: string[];
  schema: JsonSchema;
}

/** Every property of the body, nested objects included (`device.name`). */
function bodyFields(schema: JsonSchema | undefined, path: string[] = []): BodyField[] {
  if (!schema || path.length > 3) return [];
  const resolved = resolveSchema(document, schema);
  return Object.entries(resolved.properties ?? {}).flatMap(([name, property]) => {
    const field = { path: [...path, name], schema: property };
    const nested =
      schemaType(resolveSchema(document, property)) === 'object' ? bodyFields(property, field.path) : [];
    return [field, ...nested];
  });
}

const placeholder = '__walk_placeholder__';

/** The sample body with the raw JSON text `value` at `path`. */
function bodyWith(sample: string | undefined, path: string[], value: string): string {
  const object = (sample?.startsWith('{') ? JSON.parse(sample) : {}) as Record<string, unknown>;
  let cursor = object;
  for (const key of path.slice(0, -1)) {
    const next = cursor[key];
    cursor[key] = next !== null && typeof next === 'object' && !Array.isArray(next) ? next : {};
    cursor = cursor[key] as Record<string, unknown>;
  }
  cursor[path.at(-1) as string] = placeholder;
  return JSON.stringify(object).replace(`"${placeholder}"`, value);
}

/** Every hostile variant of an operation's sample request, one changed input each. */
function variants(entry: DocumentedOperation, sample: RequestParts): WalkRequest[] {
  const { method, path, operation } = entry;
  const requests: WalkRequest[] = [];
  const withParts = (change: (parts: RequestParts) => void, label: string) => {
    const parts: RequestParts = structuredClone(sample);
    change(parts);
    requests.push(buildRequest(method, path, parts, label));
  };
  for (const parameter of operation.parameters ?? []) {
    const schema = resolveSchema(document, parameter.schema);
    if (parameter.in === 'path') {
      for (const value of hostilePathValues)
        withParts((parts) => (parts.path[parameter.name] = value), `path ${parameter.name}=${value}`);
    } else if (parameter.in === 'query') {
      for (const value of hostileQueryParameterValues(document, parameter.name, schema))
        withParts(
          (parts) => (parts.query[parameter.name] = value),
          `query ${parameter.name}=${value.slice(0, 40)}`,
        );
    } else if (parameter.in === 'header') {
      for (const value of hostileHeaderValues)
        withParts(
          (parts) => (parts.headers[parameter.name] = value),
          `header ${parameter.name}=${JSON.stringify(value.slice(0, 40))}`,
        );
    }
  }
  for (const header of ['user-agent', 'x-request-id', 'x-forwarded-for'])
    for (const value of hostileHeaderValues.slice(0, 5))
      withParts((parts) => (parts.headers[header] = value), `header ${header}=${JSON.stringify(value)}`);
  for (const value of ['%00', '%ED%A0%80'])
    withParts((parts) => (parts.query[`walk${value}`] = value), `unknown query parameter ${value}`);
  const body = requestBodySchema(document, operation);
  if (body || !['GET', 'HEAD'].includes(method)) {
    for (const variant of hostileBodies(sample.body)) {
      withParts(
        (parts) => {
          parts.body = variant.payload;
          parts.headers['content-type'] = variant.contentType;
        },
        `body ${JSON.stringify((variant.payload ?? '<none>').slice(0, 40))} as ${variant.contentType}`,
      );
    }
  }
  for (const field of bodyFields(body)) {
    for (const value of hostileJsonValues(document, field.schema))
      withParts(
        (parts) => (parts.body = bodyWith(sample.body, field.path, value)),
        `body.${field.path.join('.')}=${value.slice(0, 40)}`,
      );
  }
  return requests;
}

/** Replaces a principal whose session a walked operation ended (logout, logout-all). */
async function keepLoggedIn(principal: Principal): Promise<void> {
  if (!principal.login) return;
  const check = await inject({ method: 'GET', url: '/v1/me', headers: bearer(principal.login) });
  if (check.statusCode === 200) return;
  principal.login =
    principal.name === 'customer' ? await loginCustomer(app) : await loginStaff(app, 'super_admin');
}

function isMutating(method: string): boolean {
  return !['GET', 'HEAD'].includes(method);
}

async function walkOperation(entry: DocumentedOperation): Promise<void> {
  const sample = sampleParts(document, entry.path, entry.operation);
  const isPublic = (entry.operation.security ?? []).length === 0;
  for (const principal of [anonymous, customer, staff]) {
    await keepLoggedIn(principal);
    const first = await send(
      entry,
      principal,
      buildRequest(entry.method, entry.path, sample, 'sample request'),
    );
    // Behind the guard (no token, or a role without the permission) a few variants show it answers
    // first; the full set goes through once per operation for public routes, and for each principal
    // that passes the guard.
    const guarded = first.code === 'UNAUTHENTICATED' || first.code === 'FORBIDDEN';
    const all = variants(entry, sample);
    const sampled = guarded || (isPublic && principal !== anonymous);
    await sendAll(entry, principal, sampled ? all.filter((_, index) => index % 25 === 0) : all);
  }
}

test(`every operation of /openapi.json answers hostile input without a 5xx, in the error shape, with a documented code, changing nothing when refused (${testEngine})`, async (context) => {
  assert.ok(operations.length >= 55, `only ${operations.length} operations`);
  const startedMs = Date.now();
  for (const entry of operations) await walkOperation(entry);
  assert.deepEqual(failures, [], `${failures.length} failures in ${requestCount} requests`);
  assert.ok(requestCount > 3000, `only ${requestCount} requests were sent`);
  // Its run time is reported rather than asserted: the test machine is shared.
  context.diagnostic(
    `${requestCount} requests over ${operations.length} operations in ${Date.now() - startedMs} ms`,
  );
});

/** Operations that take an id in their path; the walk replaces every such id at once. */
function pathOperations(): DocumentedOperation[] {
  return operations.filter((entry) => entry.path.includes('{'));
}

function withEveryPathId(entry: DocumentedOperation, id: string): WalkRequest {
  const sample = sampleParts(document, entry.path, entry.operation);
  for (const name of Object.keys(sample.path)) sample.path[name] = id;
  return buildRequest(entry.method, entry.path, sample, `every path id = ${id}`);
}

test('regression (issue 7 item 12): a path id that names nothing, or something of another user or tenant, is never a 2xx; a GET answers 404 NOT_FOUND', async () => {
  const checked: string[] = [];
  for (const entry of pathOperations()) {
    for (const principal of [customer, staff]) {
      await keepLoggedIn(principal);
      const ids = [randomUUID(), ...(principal === customer ? foreign.forCustomer : foreign.forStaff)];
      for (const id of ids) {
        const request = withEveryPathId(entry, id);
        const { response, code } = await send(entry, principal, request);
        if (code === 'UNAUTHENTICATED' || code === 'FORBIDDEN') break;
        checked.push(`${entry.method} ${entry.path}`);
        if (response.statusCode < 400)
          fail(entry, principal, request, `answered ${response.statusCode}: ${response.body.slice(0, 200)}`);
        else if (entry.method === 'GET' && code !== 'NOT_FOUND')
          fail(entry, principal, request, `answered ${code}, not NOT_FOUND`);
      }
    }
  }
  assert.deepEqual(failures, []);
  // Every route with a path id was reached past the guard by someone.
  const reached = new Set(checked);
  for (const entry of pathOperations())
    assert.ok(
      reached.has(`${entry.method} ${entry.path}`),
      `${entry.method} ${entry.path} was never checked`,
    );
});

test('the walk sees what it claims: a sampled body parses, hostile variants exist for every body field and parameter', () => {
  const login = operations.find((entry) => entry.path === '/v1/auth/banking/login');
  assert.ok(login);
  const sample = sampleParts(document, login.path, login.operation);
  assert.equal((JSON.parse(sample.body ?? '{}') as { device?: { name?: string } }).device?.name, 'Pixel 8');
  const labels = variants(login, sample).map((request) => request.label);
  assert.ok(labels.includes('body.device.name="\\u0000"'), labels.slice(0, 5).join(', '));
  assert.ok(labels.includes('body.device.name="\\ud800"'));
  const statement = operations.find((entry) => entry.path === '/v1/transactions' && entry.method === 'GET');
  assert.ok(statement);
  const statementLabels = variants(statement, sampleParts(document, statement.path, statement.operation)).map(
    (r) => r.label,
  );
  assert.ok(statementLabels.includes('query from=0000-01-01T00%3A00%3A00Z'));
  assert.ok(statementLabels.includes('query limit=1e400'));
  assert.ok(sampleValue(document, { type: 'integer', minimum: 5, maximum: 9 }) === 5);
});
