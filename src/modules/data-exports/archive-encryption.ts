import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { EncryptionKey } from '../../platform/auth/authentication-config.ts';

/**
 * Data export archives at rest: AES-256-GCM under a key derived (HKDF, its own label) from the
 * configured at-rest encryption key (MFA_ENCRYPTION_KEY), the key id stored beside the ciphertext.
 * Tenant, user and export id are the associated data: an archive copied onto another row does not
 * decrypt.
 */
const formatVersion = 'v1';
const ivBytes = 12;

function archiveKey(key: EncryptionKey): Buffer {
  return Buffer.from(hkdfSync('sha256', key.key, Buffer.alloc(0), 'corebank data export archive', 32));
}

function associatedData(tenantId: string, userId: string, exportId: string): Buffer {
  return Buffer.from(`data-export:${tenantId}:${userId}:${exportId}`, 'utf8');
}

export interface ArchiveOwner {
  tenantId: string;
  userId: string;
  exportId: string;
}

export function encryptArchive(keys: readonly EncryptionKey[], owner: ArchiveOwner, archive: string) {
  const key = keys[0];
  assert.ok(key, 'no at-rest encryption key configured');
  const iv = randomBytes(ivBytes);
  const cipher = createCipheriv('aes-256-gcm', archiveKey(key), iv);
  cipher.setAAD(associatedData(owner.tenantId, owner.userId, owner.exportId));
  const body = Buffer.concat([cipher.update(archive, 'utf8'), cipher.final()]);
  const ciphertext = [
    formatVersion,
    iv.toString('base64url'),
    cipher.getAuthTag().toString('base64url'),
    body.toString('base64url'),
  ].join('.');
  return { ciphertext, keyId: key.id };
}

export function decryptArchive(
  keys: readonly EncryptionKey[],
  owner: ArchiveOwner,
  stored: { ciphertext: string; keyId: string },
): string {
  const key = keys.find((candidate) => candidate.id === stored.keyId);
  assert.ok(key, `the archive's key ${stored.keyId} is not configured`);
  const [version, iv, tag, body] = stored.ciphertext.split('.');
  assert.ok(version === formatVersion && iv && tag && body !== undefined, 'malformed archive ciphertext');
  const decipher = createDecipheriv('aes-256-gcm', archiveKey(key), Buffer.from(iv, 'base64url'));
  decipher.setAAD(associatedData(owner.tenantId, owner.userId, owner.exportId));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
}
