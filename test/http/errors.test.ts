import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import type { LightMyRequestResponse } from 'fastify';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { DatabaseHandle } from '../../src/db/database.ts';
import { AppError } from '../../src/platform/errors.ts';
import { createLogger } from '../../src/platform/logger.ts';

// These tests never reach the database: every route under test is registered here.
const unusedDatabase = { engine: 'pglite', db: undefined, pglite: undefined, close: async () => {} };
const config = loadConfig({ NODE_ENV: 'test', BODY_LIMIT_BYTES: '2048' });
const transferId = '0190a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e';
const uuidV7Pattern = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const logLines: string[] = [];
const logStream = new Writable({
  write(chunk, _encoding, callback) {
    logLines.push(...String(chunk).split('\n').filter(Boolean));
    callback();
  },
});

let app: AppInstance;

function registerTestRoutes(instance: AppInstance): void {
  instance.post(
    '/test/transfers/:id',
    {
      config: { permission: 'public' },
      schema: {
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        querystring: Type.Object(
          { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) },
          { additionalProperties: false },
        ),
        body: Type.Object(
          {
            memo: Type.String({ minLength: 1, maxLength: 20 }),
            amount: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => ({
      id: request.params.id,
      amount: request.body.amount,
      limit: request.query.limit ?? null,
    }),
  );
  instance.get('/test/crash', { config: { permission: 'public' } }, async () => {
    throw new Error('secret internal detail');
  });
  instance.get('/test/conflict', { config: { permission: 'public' } }, async () => {
    throw new AppError('CONFLICT', 'The transfer was already submitted.', [
      { field: 'body.key', reason: 'reused' },
    ]);
  });
  instance.get('/test/plugin-rate-limit', { config: { permission: 'public' } }, async () => {
    throw Object.assign(new Error('internal limiter bucket 7 exhausted'), { statusCode: 429 });
  });
}

before(async () => {
  app = await buildApp({
    config,
    database: unusedDatabase as unknown as DatabaseHandle,
    logger: createLogger({ logLevel: 'info' }, logStream),
  });
  registerTestRoutes(app);
  await app.ready();
});

after(async () => {
  await app.close();
});

function postTransfer(body: unknown, options: { id?: string; query?: string; contentType?: string } = {}) {
  return app.inject({
    method: 'POST',
    url: `/test/transfers/${options.id ?? transferId}${options.query ?? ''}`,
    headers: { 'content-type': options.contentType ?? 'application/json' },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Asserts the one error shape, that request_id matches the header, and returns the error object. */
function expectError(response: LightMyRequestResponse, status: number, code: string) {
  assert.equal(response.statusCode, status, response.body);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  const body = response.json() as { error: Record<string, unknown> };
  assert.deepEqual(Object.keys(body), ['error']);
  const keys = Object.keys(body.error).sort();
  const expectedKeys = ['code', 'message', 'request_id', ...('details' in body.error ? ['details'] : [])];
  assert.deepEqual(keys, expectedKeys.sort());
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, 'string');
  assert.equal(body.error.request_id, response.headers['x-request-id']);
  assert.equal(response.body.includes('stack'), false);
  return body.error as { code: string; message: string; request_id: string; details?: { field?: string }[] };
}

function fields(error: { details?: { field?: string }[] }): (string | undefined)[] {
  return (error.details ?? []).map((detail) => detail.field);
}

describe('validation', () => {
  test('a valid request passes and the querystring is coerced to a number', async () => {
    const response = await postTransfer({ memo: 'rent', amount: 100 }, { query: '?limit=5' });
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json(), { id: transferId, amount: 100, limit: 5 });
  });

  test('a string for an integer body field is rejected, not coerced, and names body.amount', async () => {
    const error = expectError(await postTransfer({ memo: 'rent', amount: '100' }), 400, 'VALIDATION_FAILED');
    assert.deepEqual(fields(error), ['body.amount']);
  });

  test('an unknown body field is rejected and named', async () => {
    const error = expectError(
      await postTransfer({ memo: 'rent', amount: 1, admin: true }),
      400,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(fields(error), ['body.admin']);
  });

  test('a missing required field is named', async () => {
    const error = expectError(await postTransfer({ amount: 1 }), 400, 'VALIDATION_FAILED');
    assert.deepEqual(fields(error), ['body.memo']);
  });

  test('a string over maxLength and an integer over maximum are rejected', async () => {
    const tooLong = expectError(
      await postTransfer({ memo: 'x'.repeat(21), amount: 1 }),
      400,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(fields(tooLong), ['body.memo']);
    const tooBig = expectError(
      await postTransfer({ memo: 'rent', amount: 1_000_001 }),
      400,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(fields(tooBig), ['body.amount']);
  });

  test('a malformed uuid path parameter is rejected and names params.id', async () => {
    const error = expectError(
      await postTransfer({ memo: 'rent', amount: 1 }, { id: 'not-a-uuid' }),
      400,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(fields(error), ['params.id']);
  });

  test('a non-numeric querystring value is rejected and names querystring.limit', async () => {
    const error = expectError(
      await postTransfer({ memo: 'rent', amount: 1 }, { query: '?limit=ten' }),
      400,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(fields(error), ['querystring.limit']);
  });
});

describe('body parsing', () => {
  test('malformed JSON is 400 MALFORMED_JSON', async () => {
    expectError(await postTransfer('{"memo": "rent", "amount": '), 400, 'MALFORMED_JSON');
  });

  test('an empty JSON body is 400 MALFORMED_JSON, not a 500', async () => {
    expectError(await postTransfer(''), 400, 'MALFORMED_JSON');
  });

  test('a body over config.bodyLimitBytes is 413 PAYLOAD_TOO_LARGE', async () => {
    const memo = 'x'.repeat(config.bodyLimitBytes + 1);
    expectError(await postTransfer({ memo, amount: 1 }), 413, 'PAYLOAD_TOO_LARGE');
  });

  test('an unsupported content type is 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const response = await postTransfer('<transfer/>', { contentType: 'application/xml' });
    expectError(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });
});

describe('error mapping', () => {
  test('an unknown route is 404 ROUTE_NOT_FOUND', async () => {
    expectError(await app.inject({ method: 'GET', url: '/no/such/route' }), 404, 'ROUTE_NOT_FOUND');
  });

  test('a malformed URL is answered in the error shape, not Fastify default', async () => {
    expectError(await app.inject({ method: 'GET', url: '/test/transfers/%E0%A4%A' }), 400, 'BAD_REQUEST');
  });

  test('an AppError keeps its status, code, message and details', async () => {
    const error = expectError(await app.inject({ method: 'GET', url: '/test/conflict' }), 409, 'CONFLICT');
    assert.equal(error.message, 'The transfer was already submitted.');
    assert.deepEqual(fields(error), ['body.key']);
  });

  test('a 4xx error from a plugin maps by status and hides its own message', async () => {
    const response = await app.inject({ method: 'GET', url: '/test/plugin-rate-limit' });
    expectError(response, 429, 'RATE_LIMITED');
    assert.equal(response.body.includes('bucket 7'), false);
  });

  test('an unexpected error is 500 INTERNAL_ERROR without its message or stack', async () => {
    const response = await app.inject({ method: 'GET', url: '/test/crash' });
    const error = expectError(response, 500, 'INTERNAL_ERROR');
    assert.equal(response.body.includes('secret internal detail'), false);
    assert.equal(response.body.includes('.ts:'), false);
    assert.equal(error.message, 'An unexpected error occurred.');
  });

  test('the unexpected error is logged at error level with its stack and the request id', async () => {
    const response = await app.inject({ method: 'GET', url: '/test/crash' });
    const requestId = response.headers['x-request-id'];
    const line = logLines
      .map((text) => JSON.parse(text) as { level: number; reqId?: string; err?: { stack?: string } })
      .find((entry) => entry.level === 50 && entry.reqId === requestId);
    assert.ok(line, 'no error-level log line carries the request id');
    assert.match(line.err?.stack ?? '', /secret internal detail[\s\S]*errors\.test\.ts/);
  });
});

describe('request id', () => {
  test('a safe incoming x-request-id is echoed in the header and the error body', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/nowhere',
      headers: { 'x-request-id': 'trace-1.a_B' },
    });
    assert.equal(response.headers['x-request-id'], 'trace-1.a_B');
    assert.equal(expectError(response, 404, 'ROUTE_NOT_FOUND').request_id, 'trace-1.a_B');
  });

  test('an unsafe incoming x-request-id is replaced by a fresh uuid v7', async () => {
    for (const unsafe of ['has spaces', 'x'.repeat(65), '<script>', 'a\\b']) {
      const response = await app.inject({
        method: 'GET',
        url: '/health',
        headers: { 'x-request-id': unsafe },
      });
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['x-request-id']), uuidV7Pattern, unsafe);
    }
  });

  test('a success response carries a generated x-request-id too', async () => {
    const response = await app.inject({ method: 'GET', url: '/health' });
    assert.match(String(response.headers['x-request-id']), uuidV7Pattern);
  });

  test('request bodies never reach the log', async () => {
    await postTransfer({ memo: 'hunter2-marker', amount: 5 });
    assert.equal(
      logLines.some((line) => line.includes('hunter2-marker')),
      false,
    );
  });
});
