import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../../src/config/config.ts';
import { bearer, type LoggedInCustomer, loginCustomer } from '../helpers/auth.ts';
import { testEngine } from '../helpers/database.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

/**
 * Issue 8 item 5: the reads behind every screen cost ONE database round trip in all, the session check
 * included: the guard's `corebank_authenticate_session` travels in the read's own simple-protocol
 * string ('with-read' routes, readInScope). Counted, not read from the code:
 * every `query` call of a pg client is one round trip (pg sends an extended-protocol query's Parse,
 * Bind, Execute and Sync in one write, and a simple-protocol string as one message).
 */

const sent: string[] = [];
const originalQuery = pg.Client.prototype.query;

function countQueries(): void {
  pg.Client.prototype.query = function counted(this: pg.Client, ...args: unknown[]) {
    const [first] = args;
    const text = typeof first === 'string' ? first : String((first as { text?: unknown })?.text ?? '');
    sent.push(text);
    return (originalQuery as (...parameters: unknown[]) => unknown).apply(this, args);
  } as typeof pg.Client.prototype.query;
}

describe(`round trips of the screens' reads (${testEngine})`, {
  skip: testEngine === 'postgres' ? false : 'counts pg driver round trips (runs in the PostgreSQL pass)',
}, () => {
  let testApp: TestApp;
  let customer: LoggedInCustomer;

  before(async () => {
    countQueries();
    // The access log, refusal events and rate-limit violations are written by background batches (one
    // insert per up to 500 requests, counted as background work by bench/round-trips.ts). Their flush is
    // held back here so that the count is the request's own and not whichever batch fell due meanwhile.
    testApp = await startTestApp(loadConfig({ NODE_ENV: 'test', ACCESS_LOG_FLUSH_INTERVAL_MS: '60000' }));
    customer = await loginCustomer(testApp.app);
  });
  after(async () => {
    pg.Client.prototype.query = originalQuery;
    await testApp?.close();
  });

  for (const url of ['/v1/me/balances', '/v1/transactions?limit=20', '/v1/me/sessions', '/v1/me']) {
    test(`GET ${url}: one round trip, the session check and the read together`, async () => {
      // The first request warms what is cached per process (the tenant, pooled connections).
      const warm = await testApp.app.inject({ method: 'GET', url, headers: bearer(customer) });
      assert.equal(warm.statusCode, 200, warm.body);
      sent.length = 0;
      const response = await testApp.app.inject({ method: 'GET', url, headers: bearer(customer) });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(sent.length, 1, `round trips: ${JSON.stringify(sent)}`);
      const only = sent[0] ?? '';
      assert.ok(only?.includes('corebank_authenticate_session'), `the session check rides along: ${only}`);
      // The check comes first and the read's own scope is set after it, before the read runs.
      const check = only.indexOf('corebank_authenticate_session');
      const scope = only.indexOf(`set_config('app.user_id', '${customer.userId}`);
      assert.ok(check >= 0 && scope > check, `the read's scope follows the check: ${only}`);
    });
  }
});
