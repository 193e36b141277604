import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type DatabaseConnection,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
} from 'kysely';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.ts';
import { readinessCheckTimeoutMs } from '../../src/modules/health/health.service.ts';
import { MissingPermissionError } from '../../src/platform/route-permission.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';

const config = loadConfig({ NODE_ENV: 'test' });

let database: TestDatabase;
let app: AppInstance;

before(async () => {
  database = await openTestDatabase();
  app = await buildApp({ config, database, logger: false });
  await app.ready();
});

after(async () => {
  await app.close();
  await database.close();
});

/** An app of its own, for tests that break its database. */
async function withApp<T>(handle: DatabaseHandle, work: (instance: AppInstance) => Promise<T>): Promise<T> {
  const instance = await buildApp({ config, database: handle, logger: false });
  try {
    await instance.ready();
    return await work(instance);
  } finally {
    await instance.close();
  }
}

/** A database whose connection never arrives: the shape of a network partition or an exhausted pool. */
function hangingDatabase(): DatabaseHandle {
  const db = new Kysely<never>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createIntrospector: (kysely) => new PostgresIntrospector(kysely),
      createQueryCompiler: () => new PostgresQueryCompiler(),
      createDriver: () => ({
        init: async () => {},
        acquireConnection: () => new Promise<DatabaseConnection>(() => {}),
        beginTransaction: async () => {},
        commitTransaction: async () => {},
        rollbackTransaction: async () => {},
        releaseConnection: async () => {},
        destroy: async () => {},
      }),
    },
  });
  return { db, engine: 'postgres', pglite: undefined, close: async () => {} } as unknown as DatabaseHandle;
}

interface ErrorResponse {
  error: {
    code: string;
    message: string;
    request_id: string;
    details?: { field?: string; reason: string }[];
  };
}

describe('liveness and readiness', () => {
  test('GET /health is 200 with status ok and whole uptime seconds', async () => {
    const response = await app.inject({ method: 'GET', url: '/health' });
    assert.equal(response.statusCode, 200);
    const body = response.json() as { status: string; uptime_seconds: number };
    assert.equal(body.status, 'ok');
    assert.ok(Number.isInteger(body.uptime_seconds) && body.uptime_seconds >= 0);
  });

  test('GET /ready is 200 on a migrated database and reports the engine and migrations', async () => {
    const response = await app.inject({ method: 'GET', url: '/ready' });
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json() as {
      status: string;
      engine: string;
      migrations: { applied: number; pending: number };
    };
    assert.equal(body.status, 'ready');
    assert.equal(body.engine, database.engine);
    assert.ok(body.migrations.applied > 0);
    assert.equal(body.migrations.pending, 0);
  });
});

describe('readiness failures', () => {
  // One unmigrated database serves both tests, in order: first with migrations pending, then closed.
  let unmigrated: DatabaseHandle;

  before(async () => {
    unmigrated = await openDatabase({});
  });

  after(async () => {
    await unmigrated.close();
  });

  test('GET /ready is 503 SERVICE_UNAVAILABLE naming migrations when migrations are pending', async () => {
    const response = await withApp(unmigrated, (instance) =>
      instance.inject({ method: 'GET', url: '/ready' }),
    );
    assert.equal(response.statusCode, 503, response.body);
    const body = response.json() as ErrorResponse;
    assert.equal(body.error.code, 'SERVICE_UNAVAILABLE');
    assert.equal(body.error.request_id, response.headers['x-request-id']);
    assert.deepEqual(
      body.error.details?.map((detail) => detail.field),
      ['migrations'],
    );
    assert.match(body.error.details?.[0]?.reason ?? '', /pending/);
  });

  test('GET /ready is 503 SERVICE_UNAVAILABLE naming the database after the database is closed', async () => {
    await unmigrated.close();
    let elapsedMs = 0;
    // Only the request is timed: building the app is not part of the readiness check.
    const response = await withApp(unmigrated, async (instance) => {
      const started = Date.now();
      const answer = await instance.inject({ method: 'GET', url: '/ready' });
      elapsedMs = Date.now() - started;
      return answer;
    });
    assert.equal(response.statusCode, 503, response.body);
    const body = response.json() as ErrorResponse;
    assert.equal(body.error.code, 'SERVICE_UNAVAILABLE');
    assert.deepEqual(
      body.error.details?.map((detail) => detail.field),
      ['database'],
    );
    assert.ok(elapsedMs < 5000, `the readiness check was not bounded (${elapsedMs} ms)`);
  });

  test('GET /ready answers 503 within its time budget when the database hangs', async () => {
    let elapsedMs = 0;
    const response = await withApp(hangingDatabase(), async (instance) => {
      const started = Date.now();
      const answer = await instance.inject({ method: 'GET', url: '/ready' });
      elapsedMs = Date.now() - started;
      return answer;
    });
    assert.equal(response.statusCode, 503, response.body);
    const body = response.json() as ErrorResponse;
    assert.deepEqual(body.error.details, [
      { field: 'database', reason: `no answer within ${readinessCheckTimeoutMs} ms` },
    ]);
    assert.ok(
      elapsedMs >= readinessCheckTimeoutMs - 50 && elapsedMs < readinessCheckTimeoutMs + 2000,
      `${elapsedMs} ms`,
    );
  });
});

describe('documentation', () => {
  test('GET /openapi.json is OpenAPI 3.1 documenting /health, the error shape and bearerAuth', async () => {
    const response = await app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(response.statusCode, 200);
    const document = response.json() as {
      openapi: string;
      info: { title: string };
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, unknown>; securitySchemes: Record<string, { scheme?: string }> };
    };
    assert.equal(document.openapi, '3.1.0');
    assert.equal(document.info.title, 'Corebank API');
    assert.ok(document.paths['/health']?.get, 'GET /health is not documented');
    assert.ok(document.paths['/ready']?.get?.responses['503'], 'the 503 of /ready is not documented');
    assert.ok(document.components.schemas.ErrorResponse, 'ErrorResponse is not a shared component');
    assert.equal(document.components.securitySchemes.bearerAuth?.scheme, 'bearer');
    assert.equal(document.paths['/metrics'], undefined, '/metrics should be hidden from the API document');
  });

  test('GET /docs serves the interactive documentation with a CSP that lets it load', async () => {
    const response = await app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /text\/html/);
    const policy = String(response.headers['content-security-policy']);
    assert.match(policy, /script-src 'self'/);
    assert.equal(policy.includes('upgrade-insecure-requests'), false);
  });
});

describe('metrics', () => {
  test('GET /metrics counts requests by route pattern and labels unknown routes unmatched', async () => {
    await app.inject({ method: 'GET', url: '/health' });
    await app.inject({ method: 'GET', url: '/random-path-4711' });
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/plain/);
    assert.match(
      response.body,
      /http_requests_total\{method="GET",route="\/health",status_code="200"\} [1-9]/,
    );
    assert.match(
      response.body,
      /http_requests_total\{method="GET",route="unmatched",status_code="404"\} [1-9]/,
    );
    assert.match(
      response.body,
      /http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/health"/,
    );
    assert.match(response.body, /process_cpu_user_seconds_total/);
    assert.equal(response.body.includes('random-path-4711'), false, 'a raw URL became a label');
  });

  test('each app has its own registry, so building a second app in one process works', async () => {
    const unusedDatabase = database;
    await withApp(unusedDatabase, async (second) => {
      const response = await second.inject({ method: 'GET', url: '/metrics' });
      assert.equal(response.statusCode, 200);
      assert.equal(
        response.body.includes('route="/health"'),
        false,
        'the second app sees the first app counts',
      );
    });
  });
});

describe('security', () => {
  test('responses carry security headers and no x-powered-by', async () => {
    const response = await app.inject({ method: 'GET', url: '/health' });
    assert.equal(response.headers['x-content-type-options'], 'nosniff');
    assert.equal(response.headers['x-frame-options'], 'SAMEORIGIN');
    assert.match(String(response.headers['content-security-policy']), /default-src 'self'/);
    assert.equal(response.headers['x-powered-by'], undefined);
  });

  test('a route registered without config.permission fails at registration', async () => {
    const instance = await buildApp({ config, database, logger: false });
    try {
      assert.throws(() => instance.get('/unguarded', async () => 'open'), MissingPermissionError);
      assert.throws(
        () => instance.get('/empty-permission', { config: { permission: '' } }, async () => 'open'),
        MissingPermissionError,
      );
    } finally {
      await instance.close();
    }
  });

  test('a route without config.permission inside a plugin makes ready() fail', async () => {
    const instance = await buildApp({ config, database, logger: false });
    const loading = async () => {
      await instance.register(async (child) => {
        child.get('/nested-unguarded', async () => 'open');
      });
      await instance.ready();
    };
    await assert.rejects(loading, MissingPermissionError);
  });
});
