import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { DatabaseHandle } from '../../src/db/database.ts';
import { errorCatalog } from '../../src/platform/errors.ts';
import { connectionsCheckingIntervalMs } from '../../src/platform/http-timeouts.ts';

/**
 * Regression (issue 7 item 10): answers written before routing — by Node's HTTP parser (408, 431, a
 * malformed request) or by Fastify while it shuts down (503) — had Fastify's own body
 * `{"error":"Request Timeout","statusCode":408}`. Through a real listening server and raw sockets,
 * every one now has the error shape with a catalog code and a request id.
 */
const unusedDatabase = { engine: 'pglite', db: undefined, pglite: undefined, close: async () => {} };
const requestTimeoutMs = 1500;
let app: AppInstance;
let port: number;

async function buildListening(): Promise<{ app: AppInstance; port: number }> {
  // The database timeouts must stay below the request timeout (config validation); this app has none.
  const config = loadConfig({
    NODE_ENV: 'test',
    REQUEST_TIMEOUT_MS: String(requestTimeoutMs),
    DATABASE_ACQUIRE_TIMEOUT_MS: '400',
    DATABASE_STATEMENT_TIMEOUT_MS: '400',
  });
  const instance = await buildApp({
    config,
    database: unusedDatabase as unknown as DatabaseHandle,
    logger: false,
  });
  instance.get('/test/slow', { config: { permission: 'public' } }, async () => {
    await delay(400);
    return { slow: true };
  });
  const address = await instance.listen({ host: '127.0.0.1', port: 0 });
  return { app: instance, port: Number(new URL(address).port) };
}

before(async () => {
  ({ app, port } = await buildListening());
});

after(async () => {
  await app.close();
});

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  elapsedMs: number;
}

function parseAnswers(text: string): RawAnswer[] {
  const answers: RawAnswer[] = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.1')) {
    const headerEnd = rest.indexOf('\r\n\r\n');
    const [statusLine = '', ...lines] = rest.slice(0, headerEnd).split('\r\n');
    const headers = Object.fromEntries(
      lines.map((line) => [
        line.slice(0, line.indexOf(':')).toLowerCase(),
        line.slice(line.indexOf(':') + 1).trim(),
      ]),
    );
    const length = Number(headers['content-length'] ?? 0);
    const bodyStart = headerEnd + 4;
    answers.push({
      status: Number(statusLine.split(' ')[1]),
      headers,
      body: rest.slice(bodyStart, bodyStart + length),
      elapsedMs: 0,
    });
    rest = rest.slice(bodyStart + length);
  }
  return answers;
}

/** Writes raw bytes, then collects everything the server sends until it closes the connection. */
function exchange(
  chunks: (string | Buffer)[],
  options: { waitMs?: number; timeoutMs?: number } = {},
): Promise<RawAnswer[]> {
  return new Promise((resolve, reject) => {
    const startedMs = Date.now();
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const guard = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`no close within ${options.timeoutMs ?? 8000} ms; received: ${received.slice(0, 300)}`),
      );
    }, options.timeoutMs ?? 8000);
    socket.on('data', (data) => {
      received += data.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(guard);
      const answers = parseAnswers(received);
      for (const answer of answers) answer.elapsedMs = Date.now() - startedMs;
      resolve(answers);
    });
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        socket.write(chunk);
        if (options.waitMs) await delay(options.waitMs);
      }
    });
  });
}

function assertErrorShape(
  answer: RawAnswer | undefined,
  status: number,
  code: keyof typeof errorCatalog,
): void {
  assert.ok(answer, 'no answer');
  assert.equal(answer.status, status, answer.body);
  assert.match(answer.headers['content-type'] ?? '', /^application\/json/);
  const body = JSON.parse(answer.body) as { error: Record<string, unknown> };
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'request_id']);
  assert.equal(body.error.code, code);
  assert.ok(typeof body.error.message === 'string' && body.error.message.length > 0);
  assert.equal(errorCatalog[code].status, status);
  assert.equal(body.error.request_id, answer.headers['x-request-id']);
  assert.match(String(body.error.request_id), /^[0-9a-f-]{36}$/);
}

describe('errors written before routing have the error shape', () => {
  test('regression (issue 7 item 10): a header over the size limit answers 431 HEADERS_TOO_LARGE', async () => {
    const answers = await exchange([
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    ]);
    assertErrorShape(answers[0], 431, 'HEADERS_TOO_LARGE');
  });

  test('regression (issue 7 item 10): half a request line and headers, then silence, answers 408 REQUEST_TIMEOUT after REQUEST_TIMEOUT_MS', async () => {
    const answers = await exchange(['GET /health HTTP/1.1\r\nHost: x\r\n']);
    assertErrorShape(answers[0], 408, 'REQUEST_TIMEOUT');
    const elapsed = answers[0]?.elapsedMs ?? 0;
    assert.ok(elapsed >= requestTimeoutMs && elapsed < requestTimeoutMs * 3, `answered after ${elapsed} ms`);
  });

  test('regression (issue 7 item 10): a request that sends its headers and part of its body, then stalls, answers 408 too', async () => {
    const answers = await exchange([
      'POST /v1/auth/refresh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"refresh',
    ]);
    assertErrorShape(answers[0], 408, 'REQUEST_TIMEOUT');
  });

  test('regression (issue 7 follow-up): a body trickled one byte at a time is answered 408 within REQUEST_TIMEOUT_MS, not kept open for as long as bytes keep coming', async () => {
    const head =
      'POST /v1/auth/refresh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n';
    const trickle = Array.from({ length: 40 }, () => ' ');
    const answers = await exchange([head, ...trickle], { waitMs: 250, timeoutMs: 15_000 });
    assertErrorShape(answers[0], 408, 'REQUEST_TIMEOUT');
    const elapsed = answers[0]?.elapsedMs ?? 0;
    const boundMs = requestTimeoutMs + 2 * connectionsCheckingIntervalMs(requestTimeoutMs) + 200;
    assert.ok(
      elapsed >= requestTimeoutMs && elapsed <= boundMs,
      `answered after ${elapsed} ms (bound ${boundMs} ms)`,
    );
  });

  test('a malformed request line and a NUL in a header value answer 400 BAD_REQUEST', async () => {
    assertErrorShape((await exchange(['NOT A REQUEST\r\n\r\n']))[0], 400, 'BAD_REQUEST');
    const nul = Buffer.from('GET /health HTTP/1.1\r\nHost: x\r\nUser-Agent: a\u0000b\r\n\r\n', 'latin1');
    assertErrorShape((await exchange([nul]))[0], 400, 'BAD_REQUEST');
  });

  test('regression (issue 7 follow-up): an Expect header other than 100-continue answers 417 EXPECTATION_FAILED in the error shape (Node wrote a bare 417) and closes the connection', async () => {
    for (const expect of ['foo', '200-ok', '100-continued']) {
      const answers = await exchange([`GET /health HTTP/1.1\r\nHost: x\r\nExpect: ${expect}\r\n\r\n`]);
      assert.equal(answers.length, 1, `Expect: ${expect}`);
      assertErrorShape(answers[0], 417, 'EXPECTATION_FAILED');
      assert.equal(answers[0]?.headers.connection, 'close');
    }
  });

  test('Expect: 100-continue is met: 100 Continue, then the request runs normally', async () => {
    const answers = await exchange(
      [
        'POST /v1/auth/refresh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
        '{}',
      ],
      { waitMs: 50 },
    );
    assert.equal(answers[0]?.status, 100, JSON.stringify(answers));
    assert.equal(answers[1]?.status, 400, answers[1]?.body);
    assert.equal(
      (JSON.parse(answers[1]?.body ?? '{}') as { error: { code: string } }).error.code,
      'VALIDATION_FAILED',
    );
  });

  test("regression (issue 7 follow-up): every answer of Node's parser is in the error shape and closes the connection: bad framing, bad versions, oversized chunk extensions, bad header names", async () => {
    const cases: [string, number, keyof typeof errorCatalog][] = [
      [
        'POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab',
        400,
        'BAD_REQUEST',
      ],
      [
        'POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        400,
        'BAD_REQUEST',
      ],
      ['POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 400, 'BAD_REQUEST'],
      ['POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400, 'BAD_REQUEST'],
      ['GET /health HTTP/9.9\r\nHost: x\r\n\r\n', 400, 'BAD_REQUEST'],
      ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400, 'BAD_REQUEST'],
      ['GET /health HTTP/1.1\r\nHo st: x\r\n\r\n', 400, 'BAD_REQUEST'],
      ['GET /he alth HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'BAD_REQUEST'],
      ['GET /health HTTP/1.1\r\n Host: x\r\n\r\n', 400, 'BAD_REQUEST'],
      [
        `POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;${'e'.repeat(20_000)}\r\na\r\n0\r\n\r\n`,
        413,
        'PAYLOAD_TOO_LARGE',
      ],
    ];
    for (const [raw, status, code] of cases) {
      const answers = await exchange([raw]);
      assert.equal(answers.length, 1, `${JSON.stringify(raw.slice(0, 80))}: ${JSON.stringify(answers)}`);
      assertErrorShape(answers[0], status, code);
      assert.equal(answers[0]?.headers.connection, 'close');
    }
  });

  test('a well-formed request on the same server still answers normally', async () => {
    const answers = await exchange(['GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    assert.equal(answers[0]?.status, 200);
  });
});

test('regression (issue 7 item 10): a request arriving while the server shuts down answers 503 SERVICE_UNAVAILABLE in the error shape, with Connection: close', async () => {
  const closing = await buildListening();
  const socket = connect(closing.port, '127.0.0.1');
  let received = '';
  socket.on('data', (data) => {
    received += data.toString('latin1');
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
  socket.write('GET /test/slow HTTP/1.1\r\nHost: x\r\n\r\n');
  await delay(100);
  const shutdown = closing.app.close();
  // Pipelined behind the in-flight request, so it is parsed after the server started closing.
  socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  await closed;
  await shutdown;
  const answers = parseAnswers(received);
  assert.equal(answers[0]?.status, 200, received);
  assertErrorShape(answers[1], 503, 'SERVICE_UNAVAILABLE');
  assert.equal(answers[1]?.headers.connection, 'close');
});
