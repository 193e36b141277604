import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { productionSecrets } from '../../test/helpers/production-environment.ts';
import { ConfigurationError, loadConfig } from './config.ts';

function rejects(environment: Record<string, string>, variable: string): void {
  assert.throws(
    () => loadConfig(environment),
    (error: unknown) =>
      error instanceof ConfigurationError &&
      error.message.includes(variable) &&
      !error.message.includes('\n'),
  );
}

const hex = () => randomBytes(32).toString('hex');

describe('backup configuration', () => {
  test('off by default, daily, plaintext, manifests signed with a key derived from AUDIT_HMAC_KEY', () => {
    const { backup, auditHmacKey } = loadConfig({ NODE_ENV: 'test' });
    assert.equal(backup.enabled, false);
    assert.equal(backup.intervalMs, 24 * 3600 * 1000);
    assert.equal(backup.keys.encryption, undefined);
    assert.equal(backup.keys.manifest.id, 'audit:k1');
    assert.equal(backup.keys.manifest.key.length, 32);
    assert.ok(!backup.keys.manifest.key.equals(auditHmacKey), 'derived, not the audit key itself');
    const otherAudit = loadConfig({ NODE_ENV: 'test', AUDIT_HMAC_KEY: hex(), AUDIT_HMAC_KEY_ID: 'k9' });
    assert.equal(otherAudit.backup.keys.manifest.id, 'audit:k9');
    assert.ok(!otherAudit.backup.keys.manifest.key.equals(backup.keys.manifest.key));
  });

  test('BACKUP_MANIFEST_KEY and BACKUP_ENCRYPTION_KEY are used as given, with their ids', () => {
    const manifestKey = hex();
    const encryptionKey = hex();
    const { backup } = loadConfig({
      NODE_ENV: 'test',
      BACKUP_ENABLED: 'true',
      BACKUP_INTERVAL_MS: '3600000',
      BACKUP_MANIFEST_KEY: manifestKey,
      BACKUP_MANIFEST_KEY_ID: 'manifest-2026',
      BACKUP_ENCRYPTION_KEY: encryptionKey,
    });
    assert.equal(backup.enabled, true);
    assert.equal(backup.intervalMs, 3_600_000);
    assert.deepEqual(backup.keys.manifest, { id: 'manifest-2026', key: Buffer.from(manifestKey, 'hex') });
    assert.deepEqual(backup.keys.encryption, { id: 'e1', key: Buffer.from(encryptionKey, 'hex') });
  });

  test('bad values are refused, naming the variable', () => {
    rejects({ NODE_ENV: 'test', BACKUP_ENABLED: 'yes' }, 'BACKUP_ENABLED');
    rejects({ NODE_ENV: 'test', BACKUP_INTERVAL_MS: '59999' }, 'BACKUP_INTERVAL_MS');
    rejects({ NODE_ENV: 'test', BACKUP_INTERVAL_MS: String(8 * 24 * 3600 * 1000) }, 'BACKUP_INTERVAL_MS');
    rejects({ NODE_ENV: 'test', BACKUP_ENCRYPTION_KEY: 'abc' }, 'BACKUP_ENCRYPTION_KEY');
    rejects({ NODE_ENV: 'test', BACKUP_MANIFEST_KEY: 'z'.repeat(64) }, 'BACKUP_MANIFEST_KEY');
    rejects(
      { NODE_ENV: 'test', BACKUP_ENCRYPTION_KEY: hex(), BACKUP_ENCRYPTION_KEY_ID: 'a b' },
      'BACKUP_ENCRYPTION_KEY_ID',
    );
    rejects(
      { NODE_ENV: 'test', BACKUP_MANIFEST_KEY: hex(), BACKUP_MANIFEST_KEY_ID: 'x'.repeat(65) },
      'BACKUP_MANIFEST_KEY_ID',
    );
  });

  test('production refuses scheduled backups without BACKUP_ENCRYPTION_KEY, and accepts them with one', () => {
    rejects({ ...productionSecrets(), BACKUP_ENABLED: 'true' }, 'BACKUP_ENCRYPTION_KEY');
    const on = loadConfig({ ...productionSecrets(), BACKUP_ENABLED: 'true', BACKUP_ENCRYPTION_KEY: hex() });
    assert.equal(on.backup.enabled, true);
    // Backups taken by hand may stay plaintext; the manifest is signed either way.
    const off = loadConfig(productionSecrets());
    assert.equal(off.backup.keys.encryption, undefined);
    assert.equal(off.backup.keys.manifest.key.length, 32);
  });
});
