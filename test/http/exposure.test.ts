import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { ConfigurationError, loadConfig } from '../../src/config/config.ts';
import type { DatabaseHandle } from '../../src/db/database.ts';
import { startServer } from '../../src/server.ts';
import { openTestDatabase, testEngine } from '../helpers/database.ts';
import { productionSecrets } from '../helpers/production-environment.ts';

/**
 * Issue 7 item 15: /docs, /openapi.json and /metrics answered anyone in production. DOCS_EXPOSURE and
 * METRICS_EXPOSURE choose off | public | token | admin-port; production defaults to off.
 */
const unusedDatabase = { engine: 'pglite', db: undefined, pglite: undefined, close: async () => {} };
const docsToken = 'docs-token-for-tests-0123456789abcdef';
const metricsToken = 'metrics-token-for-tests-0123456789abcdef';
const apps: AppInstance[] = [];

after(async () => {
  for (const app of apps) await app.close();
});

async function appWith(environment: Record<string, string>): Promise<AppInstance> {
  const config = loadConfig({ NODE_ENV: 'test', ...environment });
  const app = await buildApp({
    config,
    database: unusedDatabase as unknown as DatabaseHandle,
    logger: false,
  });
  apps.push(app);
  await app.ready();
  return app;
}

const docsUrls = ['/docs', '/docs/static/index.html', '/docs/json', '/openapi.json'];

function expectCode(
  response: LightMyRequestResponse | Response,
  status: number,
  code: string,
  body: string,
): void {
  const statusCode = 'statusCode' in response ? response.statusCode : response.status;
  assert.equal(statusCode, status, body);
  const parsed = JSON.parse(body) as { error: { code: string; request_id: string } };
  assert.equal(parsed.error.code, code);
  assert.equal(typeof parsed.error.request_id, 'string');
}

function basic(password: string): string {
  return `Basic ${Buffer.from(`anyone:${password}`).toString('base64')}`;
}

describe('exposure configuration', () => {
  test('production defaults to off for docs and metrics; development and test to public', () => {
    const production = loadConfig(productionSecrets());
    assert.equal(production.exposure.docs, 'off');
    assert.equal(production.exposure.metrics, 'off');
    for (const environment of ['development', 'test'])
      assert.deepEqual(
        [
          loadConfig({ NODE_ENV: environment }).exposure.docs,
          loadConfig({ NODE_ENV: environment }).exposure.metrics,
        ],
        ['public', 'public'],
      );
  });

  test('token mode needs a token of at least 32 characters; admin-port needs a port other than PORT; unknown modes are refused', () => {
    const refused: [Record<string, string>, string][] = [
      [{ METRICS_EXPOSURE: 'token' }, 'METRICS_TOKEN'],
      [{ METRICS_EXPOSURE: 'token', METRICS_TOKEN: 'short' }, 'METRICS_TOKEN'],
      [{ DOCS_EXPOSURE: 'token', DOCS_TOKEN: `${'x'.repeat(40)} space` }, 'DOCS_TOKEN'],
      [{ DOCS_EXPOSURE: 'admin-port', PORT: '4000', ADMIN_PORT: '4000' }, 'ADMIN_PORT'],
      [{ METRICS_EXPOSURE: 'everyone' }, 'METRICS_EXPOSURE'],
      [{ ADMIN_PORT: '70000' }, 'ADMIN_PORT'],
    ];
    for (const [environment, variable] of refused) {
      assert.throws(
        () => loadConfig({ NODE_ENV: 'test', ...environment }),
        (error: unknown) => error instanceof ConfigurationError && error.variable === variable,
        JSON.stringify(environment),
      );
    }
    // A token is not read (so not required) unless its mode is token.
    assert.equal(loadConfig({ NODE_ENV: 'test', METRICS_TOKEN: 'short' }).exposure.metricsToken, undefined);
  });
});

describe('modes on the public port', () => {
  test('off: the routes do not exist (404 ROUTE_NOT_FOUND), and the document is still built', async () => {
    const app = await appWith({ DOCS_EXPOSURE: 'off', METRICS_EXPOSURE: 'off' });
    for (const url of [...docsUrls, '/metrics']) {
      const response = await app.inject({ method: 'GET', url });
      expectCode(response, 404, 'ROUTE_NOT_FOUND', response.body);
    }
    assert.ok(Object.keys(app.swagger().paths ?? {}).length > 50);
  });

  test('public: anyone reads them', async () => {
    const app = await appWith({ DOCS_EXPOSURE: 'public', METRICS_EXPOSURE: 'public' });
    for (const url of [...docsUrls, '/metrics']) {
      const response = await app.inject({ method: 'GET', url });
      assert.ok(response.statusCode < 400, `${url}: ${response.statusCode}`);
    }
  });

  test('token: 401 with a challenge without or with a wrong token; the right bearer token or Basic password opens only its own surface', async () => {
    const app = await appWith({
      DOCS_EXPOSURE: 'token',
      DOCS_TOKEN: docsToken,
      METRICS_EXPOSURE: 'token',
      METRICS_TOKEN: metricsToken,
    });
    for (const [url, token] of [
      ['/metrics', metricsToken],
      ...docsUrls.map((docsUrl) => [docsUrl, docsToken]),
    ] as const) {
      for (const authorization of [undefined, 'Bearer wrong', `Bearer ${token}x`, basic('wrong')]) {
        const response = await app.inject({
          method: 'GET',
          url,
          headers: authorization ? { authorization } : {},
        });
        expectCode(response, 401, 'UNAUTHENTICATED', response.body);
        assert.match(String(response.headers['www-authenticate']), /realm="corebank/);
      }
      for (const authorization of [`Bearer ${token}`, basic(token)]) {
        const response = await app.inject({ method: 'GET', url, headers: { authorization } });
        assert.ok(
          response.statusCode < 400,
          `${url} with ${authorization.split(' ')[0]}: ${response.statusCode}`,
        );
      }
    }
    const crossed = await app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${docsToken}` },
    });
    expectCode(crossed, 401, 'UNAUTHENTICATED', crossed.body);
    // The API itself is untouched by the exposure guard.
    assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
  });
});

test(`admin-port: docs and metrics answer only on ADMIN_PORT, which serves nothing else but the probes (startServer, ${testEngine})`, async () => {
  const database = testEngine === 'postgres' ? await openTestDatabase() : undefined;
  const dataDirectory = mkdtempSync(join(tmpdir(), 'corebank-exposure-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    ADMIN_PORT: '0',
    DOCS_EXPOSURE: 'admin-port',
    METRICS_EXPOSURE: 'admin-port',
    ...(database?.url ? { DATABASE_URL: database.url } : { DATA_DIR: dataDirectory }),
  });
  const server = await startServer(config);
  try {
    const adminAddress = server.adminAddress;
    assert.ok(adminAddress && adminAddress !== server.address, `admin address ${adminAddress}`);
    for (const url of [...docsUrls, '/metrics']) {
      const onPublic = await fetch(`${server.address}${url}`);
      expectCode(onPublic, 404, 'ROUTE_NOT_FOUND', await onPublic.text());
      const onAdmin = await fetch(`${adminAddress}${url}`);
      assert.ok(onAdmin.status < 400, `${url} on the admin port: ${onAdmin.status}`);
    }
    assert.match(await (await fetch(`${adminAddress}/metrics`)).text(), /http_requests_total/);
    assert.equal((await fetch(`${adminAddress}/health`)).status, 200);
    for (const url of ['/v1/me', '/v1/auth/banking/login', '/nowhere']) {
      const onAdmin = await fetch(`${adminAddress}${url}`);
      expectCode(onAdmin, 404, 'ROUTE_NOT_FOUND', await onAdmin.text());
    }
    assert.equal((await fetch(`${server.address}/health`)).status, 200);
  } finally {
    await server.close();
    await database?.close();
    rmSync(dataDirectory, { recursive: true, force: true });
  }
});
