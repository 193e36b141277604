import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { type LoggedInCustomer, loginCustomer, testPin } from '../helpers/auth.ts';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';

/**
 * Regression (issue 7.13): every rejected request logged "code":"[REDACTED]" and SQLSTATEs were
 * redacted too; request lines did not say which tenant and user they were for.
 */
describe(`request log lines (${testEngine})`, () => {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'info', LOGIN_IP_FAILURES_MAX: '100000' });
  const lines: string[] = [];
  let database: TestDatabase;
  let app: AppInstance;
  let customer: LoggedInCustomer;

  before(async () => {
    database = await openTestDatabase();
    const stream = new Writable({
      write(chunk, _encoding, callback) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        callback();
      },
    });
    app = await buildApp({ config, database, logger: createLogger(config, stream) });
    // A statement PostgreSQL rejects (division_by_zero, 22012): a bug whose SQLSTATE the log must show.
    app.get('/test/division', { config: { permission: 'public' } }, async () => {
      await sql`select 1 / 0`.execute(database.db);
      return {};
    });
    await app.ready();
    customer = await loginCustomer(app);
  });

  after(async () => {
    await app.close();
    await database.close();
  });

  function linesOf(requestId: string): Record<string, unknown>[] {
    return lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.reqId === requestId);
  }

  test('a rejected request logs its error code, with the tenant and user of the caller', async () => {
    const response = await app.inject({
      method: 'PATCH',
      url: '/v1/me',
      headers: { authorization: `Bearer ${customer.accessToken}` },
      payload: { no_such_field: true },
    });
    assert.equal(response.statusCode, 400);
    const requestLines = linesOf(String(response.headers['x-request-id']));
    const rejected = requestLines.find((line) => line.msg === 'request rejected');
    assert.equal(rejected?.code, 'VALIDATION_FAILED');
    const completed = requestLines.find((line) => line.msg === 'request completed');
    for (const line of [rejected, completed]) {
      assert.equal(line?.tenantId, customer.tenantId);
      assert.equal(line?.userId, customer.userId);
    }
  });

  test('a refusal after authentication (403) names the user too', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/v1/admin/users',
      headers: { authorization: `Bearer ${customer.accessToken}` },
    });
    assert.equal(response.statusCode, 403);
    const rejected = linesOf(String(response.headers['x-request-id'])).find(
      (line) => line.msg === 'request rejected',
    );
    assert.equal(rejected?.code, 'FORBIDDEN');
    assert.equal(rejected?.userId, customer.userId);
  });

  test('a failed statement logs its SQLSTATE', async () => {
    const response = await app.inject({ method: 'GET', url: '/test/division' });
    assert.equal(response.statusCode, 500);
    const failed = linesOf(String(response.headers['x-request-id'])).find(
      (line) => line.msg === 'request failed',
    );
    assert.equal((failed?.err as { code?: string } | undefined)?.code, '22012');
  });

  test('an anonymous request has no user on its lines, and no credential reached any line', () => {
    const anonymous = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => (line.req as { url?: string } | undefined)?.url === '/test/division');
    assert.ok(anonymous.length > 0);
    for (const line of anonymous) assert.equal(line.userId, undefined);
    const output = lines.join('\n');
    assert.equal(output.includes(testPin), false, 'the PIN');
    assert.equal(output.includes(customer.accessToken), false, 'the access token');
    assert.equal(output.includes(customer.refreshToken), false, 'the refresh token');
    assert.doesNotMatch(output, /"code":"\[REDACTED\]"/);
  });
});
