import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { seedDatabase } from '../../src/db/seed/seed.ts';
import { latestCode } from '../helpers/auth.ts';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';
import {
  bodyExample,
  documentedOperations,
  type OpenApiDocument,
  readOpenApiDocument,
} from '../helpers/openapi.ts';

/**
 * Issue 7 item 16: the OpenAPI examples must work against the development seed (the banking login
 * example named PIN 246810; the seed's is 123456). The examples are read from /openapi.json, so an
 * example that drifts from the seed fails here.
 */
let app: AppInstance;
let database: TestDatabase;
let document: OpenApiDocument;

before(async () => {
  database = await openTestDatabase();
  const config = loadConfig({ NODE_ENV: 'test', LOGIN_IP_FAILURES_MAX: '100000' });
  const seeded = await seedDatabase(database, config);
  assert.equal(seeded.seeded, true);
  app = await buildApp({ config, database, logger: false });
  await app.ready();
  document = await readOpenApiDocument(app);
});

after(async () => {
  await app.close();
  await database.close();
});

function example(method: string, path: string): Record<string, unknown> {
  const entry = documentedOperations(document).find((item) => item.method === method && item.path === path);
  const value = entry ? bodyExample(entry.operation) : undefined;
  assert.ok(value && typeof value === 'object', `${method} ${path} has no body example`);
  return value as Record<string, unknown>;
}

async function post(url: string, payload: Record<string, unknown>, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url, payload, headers });
}

test(`regression (issue 7 item 16): the banking login example logs in a seeded customer, and the transfer example then moves money (${testEngine})`, async () => {
  const login = example('POST', '/v1/auth/banking/login');
  const started = await post('/v1/auth/banking/login', login);
  assert.equal(started.statusCode, 200, started.body);
  const otp = await latestCode(app, String(login.phone));
  const verified = await post('/v1/auth/banking/verify', {
    login_token: (started.json() as { login_token: string }).login_token,
    otp,
  });
  assert.equal(verified.statusCode, 200, verified.body);
  const { access_token } = verified.json() as { access_token: string };
  const transfer = await post('/v1/transactions/transfer', example('POST', '/v1/transactions/transfer'), {
    authorization: `Bearer ${access_token}`,
  });
  assert.equal(transfer.statusCode, 201, transfer.body);
});

test('the staff login example logs in the seeded admin (a session that may enrol MFA)', async () => {
  const response = await post('/v1/admin/auth/login', example('POST', '/v1/admin/auth/login'));
  assert.equal(response.statusCode, 200, response.body);
  assert.equal((response.json() as { user: { email: string } }).user.email, 'admin@corebank.dev');
});

test('the email register, verify and login examples chain: the login example is the registered account', async () => {
  const register = example('POST', '/v1/auth/email/register');
  assert.equal((await post('/v1/auth/email/register', register)).statusCode, 202);
  const outbox = await app.inject({
    method: 'GET',
    url: `/v1/dev/outbox?to=${encodeURIComponent(String(register.email))}&limit=1`,
  });
  const [message] = (outbox.json() as { messages: { body: string }[] }).messages;
  const token = /token=([A-Za-z0-9_-]+)/.exec(message?.body ?? '')?.[1];
  assert.ok(token, 'no verification link in the outbox');
  assert.equal((await post('/v1/auth/email/verify', { token })).statusCode, 200);
  const login = example('POST', '/v1/auth/email/login');
  assert.equal(login.email, register.email);
  const response = await post('/v1/auth/email/login', login);
  assert.equal(response.statusCode, 200, response.body);
});
