import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { productionSecrets } from '../../test/helpers/production-environment.ts';
import { ConfigurationError, loadConfig } from './config.ts';

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

  test('a configuration error never echoes a secret value', () => {
    const secret = 'zz-super-secret-zz';
    assert.throws(
      () => loadConfig({ AUDIT_HMAC_KEY: secret }),
      (error: Error) => !error.message.includes(secret),
    );
  });
});
