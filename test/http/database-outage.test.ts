import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { type RunningServer, startServer } from '../../src/server.ts';
import { type LoggedInCustomer, loginCustomer } from '../helpers/auth.ts';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';

/**
 * Regression (issue 7.9): with PostgreSQL refusing connections the API answered 500 (earlier 401);
 * with PostgreSQL not answering, requests hung 30 s and the socket was dropped; resetting every
 * server–database connection killed the process. A real server (listening, with its background jobs)
 * talks to PostgreSQL through a proxy this test breaks.
 */
const skip =
  testEngine === 'postgres'
    ? false
    : 'PGlite runs inside the server process: there is no network between them to break (runs on PostgreSQL)';

const acquireTimeoutMs = 1500;
const statementTimeoutMs = 1000;
const requestTimeoutMs = 5000;

interface Answer {
  status: number;
  retryAfter: string | null;
  body: { error?: { code: string; message: string; request_id: string } };
  elapsedMs: number;
}

describe('database outages (issue 7.9)', { skip }, () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let server: RunningServer;
  let customer: LoggedInCustomer;
  const logLines: string[] = [];
  /** Every answer to an authenticated request, across every phase: none may be 401 or 500. */
  const authenticatedStatuses: number[] = [];

  before(async () => {
    database = await openTestDatabase();
    const target = new URL(database.url ?? '');
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const config = loadConfig({
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      DATABASE_URL: proxy.url(database.url ?? ''),
      DATABASE_POOL_MAX: '4',
      DATABASE_ACQUIRE_TIMEOUT_MS: String(acquireTimeoutMs),
      DATABASE_STATEMENT_TIMEOUT_MS: String(statementTimeoutMs),
      REQUEST_TIMEOUT_MS: String(requestTimeoutMs),
      AUDIT_SEAL_INTERVAL_MS: '100',
      LOGIN_IP_FAILURES_MAX: '100000',
    });
    const stream = new Writable({
      write(chunk, _encoding, callback) {
        logLines.push(String(chunk));
        callback();
      },
    });
    server = await startServer(config, createLogger(config, stream));
    customer = await loginCustomer(server.app);
  });

  after(async () => {
    await proxy?.pass();
    await server?.close();
    await proxy?.close();
    await database?.close();
  });

  async function call(method: 'GET' | 'POST', path: string, authenticated = true): Promise<Answer> {
    const started = performance.now();
    const headers: Record<string, string> = {};
    if (authenticated) headers.authorization = `Bearer ${customer.accessToken}`;
    let body: string | undefined;
    if (method === 'POST') {
      headers['content-type'] = 'application/json';
      headers['idempotency-key'] = randomUUID();
      // A transfer's session is checked in its own statement: with the database gone it must be a
      // 503 like every other request, never a 401. The account number names nobody (a 404 once up).
      const transfer = { to_account_number: '10000000000001', amount: 5 };
      body = JSON.stringify(
        path.endsWith('/transfer')
          ? transfer
          : path.endsWith('/batch')
            ? { atomic: true, transfers: [transfer] }
            : { amount: 5 },
      );
    }
    const response = await fetch(`${server.address}${path}`, {
      method,
      headers,
      body,
      // Longer than the server's own request timeout: a hang shows up as this abort, not as a pass.
      signal: AbortSignal.timeout(requestTimeoutMs + 5000),
    });
    const answer: Answer = {
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      body: (await response.json()) as Answer['body'],
      elapsedMs: performance.now() - started,
    };
    if (authenticated) authenticatedStatuses.push(answer.status);
    return answer;
  }

  const probes = [
    ['GET', '/v1/me'],
    ['GET', '/v1/me/balances'],
    ['GET', '/v1/transactions?limit=5'],
    ['POST', '/v1/transactions/topup'],
    ['POST', '/v1/transactions/transfer'],
    ['POST', '/v1/transactions/batch'],
  ] as const;

  function assertUnavailable(answer: Answer, label: string, withinMs: number): void {
    assert.equal(answer.status, 503, `${label}: ${JSON.stringify(answer.body)}`);
    // A money request that cannot get a connection says "busy, retry with the same key" (also a 503).
    assert.ok(
      ['SERVICE_UNAVAILABLE', 'TRANSACTION_CONFLICT'].includes(answer.body.error?.code ?? ''),
      `${label}: ${answer.body.error?.code}`,
    );
    assert.equal(typeof answer.body.error?.request_id, 'string', label);
    assert.match(answer.retryAfter ?? '', /^\d+$/, `${label}: Retry-After`);
    assert.ok(answer.elapsedMs < withinMs, `${label}: answered after ${Math.round(answer.elapsedMs)} ms`);
  }

  async function waitUntilServing(limitMs: number): Promise<void> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      const ready = await call('GET', '/ready', false);
      const me = await call('GET', '/v1/me');
      if (ready.status === 200 && me.status === 200) return;
      assert.ok(Date.now() < deadline, `not recovered: /ready ${ready.status}, /v1/me ${me.status}`);
      await sleep(100);
    }
  }

  test('serves through the proxy before anything breaks', async () => {
    assert.equal((await call('GET', '/v1/me')).status, 200);
    assert.equal((await call('GET', '/ready', false)).status, 200);
  });

  test('refused connections: 503 SERVICE_UNAVAILABLE with Retry-After at once, /ready 503, then recovery', async () => {
    await proxy.refuse();
    for (const [method, path] of probes) {
      // Refusal is immediate: the answer must not wait for the acquire timeout.
      assertUnavailable(await call(method, path), `${method} ${path}`, acquireTimeoutMs);
    }
    const ready = await call('GET', '/ready', false);
    assertUnavailable(ready, '/ready', acquireTimeoutMs);
    await proxy.pass();
    await waitUntilServing(5000);
  });

  test('a database that never answers: 503 within the configured bound, then recovery without reusing dead connections', async () => {
    // Warm the pool so some requests meet established connections that go silent, others new ones.
    await Promise.all(probes.map(([method, path]) => call(method, path)));
    await proxy.blackhole();
    const answers = await Promise.all([
      ...probes.map(([method, path]) => call(method, path)),
      call('GET', '/v1/me'),
      call('GET', '/ready', false),
    ]);
    answers.forEach((answer, index) => {
      assertUnavailable(answer, `black-holed request ${index}`, requestTimeoutMs);
    });
    await proxy.pass();
    await waitUntilServing(10_000);
    // A connection that sat in the black hole is dead for good; had it gone back to the pool, one of
    // these would wait for it and fail.
    for (let round = 0; round < 8; round += 1) {
      assert.equal((await call('GET', '/v1/me')).status, 200, `round ${round}`);
    }
  });

  test('8 resets of every server–database connection under load: the process lives, nothing but 200 or 503, then recovery', async () => {
    let stopped = false;
    const worker = async () => {
      while (!stopped) {
        const answer = await call('GET', '/v1/me');
        assert.ok([200, 503].includes(answer.status), `answered ${answer.status}`);
        if (answer.status === 503) assert.equal(answer.body.error?.code, 'SERVICE_UNAVAILABLE');
      }
    };
    const workers = Array.from({ length: 6 }, worker);
    let resetConnections = 0;
    for (let reset = 0; reset < 8; reset += 1) {
      await sleep(150);
      resetConnections += proxy.resetAll();
    }
    stopped = true;
    await Promise.all(workers);
    assert.ok(resetConnections >= 8, `only ${resetConnections} connections were open to reset`);
    await waitUntilServing(5000);
    assert.ok(
      logLines.some((line) => line.includes('database connection lost') && line.includes('"errno"')),
      'a lost connection is logged with its errno',
    );
  });

  test('background jobs survive the outages and resume: new audit rows are sealed again', async () => {
    assert.ok(
      logLines.some((line) => line.includes('scheduled job failed: database unavailable')),
      'the sealer logged its failures during the outage',
    );
    assert.equal((await call('POST', '/v1/transactions/topup')).status, 201);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const unsealed = await sql<{ count: number }>`
        select count(*)::int as count from audit_logs where row_hash is null`.execute(database.db);
      if (unsealed.rows[0]?.count === 0) break;
      assert.ok(Date.now() < deadline, `${unsealed.rows[0]?.count} audit rows still unsealed`);
      await sleep(100);
    }
  });

  test('no valid token was ever answered 401 or 500', () => {
    assert.ok(authenticatedStatuses.length > 20, `${authenticatedStatuses.length} requests`);
    const bad = authenticatedStatuses.filter((status) => status === 401 || (status >= 500 && status !== 503));
    assert.deepEqual(bad, []);
  });
});
