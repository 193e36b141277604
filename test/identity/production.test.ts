import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { ConfigurationError, loadConfig } from '../../src/config/config.ts';
import { ensureTenant, randomAccountNumber, randomPhone } from '../helpers/auth.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { productionSecrets } from '../helpers/production-environment.ts';

let database: TestDatabase;
let app: AppInstance;

before(async () => {
  database = await openTestDatabase();
  app = await buildApp({ config: loadConfig(productionSecrets()), database, logger: false });
  await app.ready();
  await ensureTenant(app);
});

after(async () => {
  await app.close();
  await database.close();
});

test('the development outbox route does not exist in production', async () => {
  const response = await app.inject({ method: 'GET', url: '/v1/dev/outbox' });
  assert.equal(response.statusCode, 404);
  assert.ok(!app.routePermissions.has('GET /v1/dev/outbox'));
});

test('without an SMS provider a production banking login fails loudly instead of pretending to send', async () => {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/auth/banking/login',
    payload: {
      name: 'Production Customer',
      phone: randomPhone(),
      account_number: randomAccountNumber(),
      mother_name: 'Mother Of Production',
      pin: '246810',
      device: { type: 'web', id: 'p', name: 'p' },
    },
  });
  assert.equal(response.statusCode, 503);
});

test('production uses the configured signing key id and refuses to start without keys', async () => {
  const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as {
    keys: { kid: string }[];
  };
  assert.deepEqual(
    jwks.keys.map((key) => key.kid),
    ['test-key-1'],
  );
  for (const variable of ['JWT_PRIVATE_KEY', 'MFA_ENCRYPTION_KEY']) {
    const secrets = productionSecrets();
    delete secrets[variable];
    assert.throws(
      () => loadConfig(secrets),
      (error: unknown) => error instanceof ConfigurationError && error.variable === variable,
    );
  }
  assert.throws(
    () => loadConfig({ ...productionSecrets(), JWT_PRIVATE_KEY: 'not a pem' }),
    ConfigurationError,
  );
  assert.throws(
    () =>
      loadConfig({
        ...productionSecrets(),
        SESSION_IDLE_TIMEOUT_SECONDS: '999999',
        SESSION_ABSOLUTE_LIFETIME_SECONDS: '3600',
      }),
    ConfigurationError,
  );
});
