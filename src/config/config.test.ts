import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { productionSecrets } from '../../test/helpers/production-environment.ts';
import { ConfigurationError, ConfigurationErrors, loadConfig } from './config.ts';

function rejects(environment: Record<string, string>, variable: string): void {
  assert.throws(
    () => loadConfig(environment),
    (error: unknown) =>
      error instanceof ConfigurationError && error.variable === variable && error.message.includes(variable),
  );
}

describe('configuration', () => {
  test('development defaults need no variables at all', () => {
    const config = loadConfig({});
    assert.equal(config.environment, 'development');
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.migrateOnStart, true);
    assert.equal(config.seedOnStart, true);
    assert.equal(config.port, 3000);
  });

  test('test and production have their own defaults', () => {
    const test = loadConfig({ NODE_ENV: 'test' });
    assert.equal(test.logLevel, 'silent');
    assert.equal(test.seedOnStart, false);
    const production = loadConfig(productionSecrets());
    assert.equal(production.migrateOnStart, false, 'production never migrates unless told to (seed 002)');
    assert.equal(production.seedOnStart, false);
    assert.equal(production.backupRetentionDays, 30);
  });

  test('TERMS_VERSION and PRIVACY_POLICY_VERSION: default 1, a version as written, anything else refused', () => {
    assert.deepEqual(loadConfig({}).consent, { termsVersion: '1', privacyPolicyVersion: '1' });
    const published = loadConfig({ TERMS_VERSION: '2026-12-07', PRIVACY_POLICY_VERSION: 'v3.1_b' });
    assert.deepEqual(published.consent, { termsVersion: '2026-12-07', privacyPolicyVersion: 'v3.1_b' });
    rejects({ TERMS_VERSION: 'x'.repeat(33) }, 'TERMS_VERSION');
    rejects({ TERMS_VERSION: '-1' }, 'TERMS_VERSION');
    rejects({ PRIVACY_POLICY_VERSION: 'version 2' }, 'PRIVACY_POLICY_VERSION');
    rejects({ PRIVACY_POLICY_VERSION: '2\u0000' }, 'PRIVACY_POLICY_VERSION');
  });

  test('a bad value stops the start with a message naming the variable', () => {
    rejects({ PORT: 'eighty' }, 'PORT');
    rejects({ PORT: '70000' }, 'PORT');
    rejects({ NODE_ENV: 'staging' }, 'NODE_ENV');
    rejects({ DATABASE_URL: 'mysql://localhost/x' }, 'DATABASE_URL');
    rejects({ DATABASE_URL: 'not a url' }, 'DATABASE_URL');
    rejects({ MIGRATE_ON_START: 'yes please' }, 'MIGRATE_ON_START');
    rejects({ LOG_LEVEL: 'loud' }, 'LOG_LEVEL');
    rejects({ AUDIT_HMAC_KEY: 'short' }, 'AUDIT_HMAC_KEY');
    rejects({ BACKUP_RETENTION_DAYS: '0' }, 'BACKUP_RETENTION_DAYS');
    rejects({ DEFAULT_TENANT_SLUG: 'Not A Slug' }, 'DEFAULT_TENANT_SLUG');
  });

  test('production refuses to start without each of its secrets', () => {
    const complete = productionSecrets();
    for (const name of ['AUDIT_HMAC_KEY', 'PIN_PEPPER', 'SECRET_TOKEN_KEY']) {
      const { [name]: _omitted, ...incomplete } = complete;
      rejects(incomplete, name);
    }
  });

  test('regression (issue 7.17): production without any secret names all seven in one error', () => {
    const secrets = [
      'AUDIT_HMAC_KEY',
      'PIN_PEPPER',
      'SECRET_TOKEN_KEY',
      'MFA_ENCRYPTION_KEY',
      'JWT_PRIVATE_KEY',
      'JWT_KEY_ID',
      'AUDIT_CHECKPOINT_SIGNING_KEY',
    ];
    assert.throws(
      () => loadConfig({ NODE_ENV: 'production' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationErrors, String(error));
        assert.deepEqual([...error.variables].sort(), [...secrets].sort());
        for (const name of secrets) assert.ok(error.message.includes(name), name);
        assert.equal(error.message.includes('\n'), false, 'one line');
        return true;
      },
    );
  });

  test('every invalid variable of every section is reported at once, each named once', () => {
    assert.throws(
      () =>
        loadConfig({
          PORT: 'eighty',
          LOG_LEVEL: 'loud',
          LOCKOUT_THRESHOLD: '1',
          MFA_ENCRYPTION_KEY: 'not-hex',
          SESSION_IDLE_TIMEOUT_SECONDS: '7200',
          SESSION_ABSOLUTE_LIFETIME_SECONDS: '3600',
          PAYOUT_BATCH_SIZE: '0',
          TRUST_PROXY: 'somewhere',
          DEFAULT_TENANT_SLUG: 'Not A Slug',
        }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationErrors);
        assert.deepEqual(error.variables, [
          'PORT',
          'LOG_LEVEL',
          'TRUST_PROXY',
          'LOCKOUT_THRESHOLD',
          'MFA_ENCRYPTION_KEY',
          'SESSION_IDLE_TIMEOUT_SECONDS',
          'PAYOUT_BATCH_SIZE',
          'DEFAULT_TENANT_SLUG',
        ]);
        assert.equal(error.variable, 'PORT', "the first problem is the error's variable");
        return true;
      },
    );
  });

  test('regression (issue 7.9): database timeouts must end before the request timeout', () => {
    rejects(
      {
        REQUEST_TIMEOUT_MS: '5000',
        DATABASE_ACQUIRE_TIMEOUT_MS: '5000',
        DATABASE_STATEMENT_TIMEOUT_MS: '1000',
      },
      'DATABASE_ACQUIRE_TIMEOUT_MS',
    );
    // The client's own limit is the statement timeout plus a second: that too must end first.
    rejects(
      {
        REQUEST_TIMEOUT_MS: '5000',
        DATABASE_ACQUIRE_TIMEOUT_MS: '1000',
        DATABASE_STATEMENT_TIMEOUT_MS: '4000',
      },
      'DATABASE_STATEMENT_TIMEOUT_MS',
    );
    const config = loadConfig({
      REQUEST_TIMEOUT_MS: '5000',
      DATABASE_ACQUIRE_TIMEOUT_MS: '4999',
      DATABASE_STATEMENT_TIMEOUT_MS: '3999',
    });
    assert.equal(config.databaseQueryTimeoutMs, 4999);
    const defaults = loadConfig({});
    assert.ok(defaults.databaseAcquireTimeoutMs < defaults.requestTimeoutMs);
    assert.ok(defaults.databaseQueryTimeoutMs < defaults.requestTimeoutMs);
  });

  test('TRUST_PROXY: off by default, true, or addresses and ranges; a hop count is refused', () => {
    assert.equal(loadConfig({}).trustProxy, false);
    assert.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false);
    assert.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true);
    assert.deepEqual(
      loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.7,::1,fd00::/8,loopback' }).trustProxy,
      ['10.0.0.0/8', '192.168.1.7', '::1', 'fd00::/8', 'loopback'],
    );
    for (const bad of ['1', '2', '10.0.0.0/33', '10.0.0', 'proxy.internal', '::1/129', '10.0.0.1/8/8']) {
      rejects({ TRUST_PROXY: bad }, 'TRUST_PROXY');
    }
  });

  test('LOG_FORMAT is auto, json or pretty', () => {
    assert.equal(loadConfig({}).logFormat, 'auto');
    assert.equal(loadConfig({ LOG_FORMAT: 'pretty' }).logFormat, 'pretty');
    rejects({ LOG_FORMAT: 'xml' }, 'LOG_FORMAT');
  });

  test('a configuration error never echoes a secret value', () => {
    const secret = 'zz-super-secret-zz';
    assert.throws(
      () => loadConfig({ AUDIT_HMAC_KEY: secret }),
      (error: Error) => !error.message.includes(secret),
    );
  });
});
