import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { EncryptionKey } from '../../platform/auth/authentication-config.ts';

/**
 * TOTP secrets at rest: AES-256-GCM under the configured key, the key id stored beside the ciphertext
 * so a new key can be introduced while old rows still decrypt (and be re-encrypted). The tenant and
 * user are bound as associated data: a ciphertext copied onto another user's row does not decrypt.
 */
export interface EncryptedSecret {
  ciphertext: string;
  keyId: string;
}

const formatVersion = 'v1';
const ivBytes = 12;

function associatedData(tenantId: string, userId: string): Buffer {
  return Buffer.from(`totp:${tenantId}:${userId}`, 'utf8');
}

export function encryptSecret(
  keys: readonly EncryptionKey[],
  tenantId: string,
  userId: string,
  secret: string,
): EncryptedSecret {
  const key = keys[0];
  // The configuration always holds a current key (authentication-config.ts); none is our bug.
  assert.ok(key, 'no MFA encryption key configured');
  const iv = randomBytes(ivBytes);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv);
  cipher.setAAD(associatedData(tenantId, userId));
  const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return {
    ciphertext: [
      formatVersion,
      iv.toString('base64url'),
      tag.toString('base64url'),
      body.toString('base64url'),
    ].join('.'),
    keyId: key.id,
  };
}

/** Throws if the key is unknown or the ciphertext was altered. */
export function decryptSecret(
  keys: readonly EncryptionKey[],
  tenantId: string,
  userId: string,
  encrypted: EncryptedSecret,
): string {
  const key = keys.find((candidate) => candidate.id === encrypted.keyId);
  if (!key) throw new Error(`MFA encryption key ${encrypted.keyId} is not configured`);
  const [version, iv, tag, body] = encrypted.ciphertext.split('.');
  // Only encryptSecret writes these ciphertexts; another shape is a broken invariant, not bad input.
  assert.ok(version === formatVersion && iv && tag && body !== undefined, 'unknown MFA secret format');
  const decipher = createDecipheriv('aes-256-gcm', key.key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(associatedData(tenantId, userId));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
}

/** True when the row is under an older key and should be re-encrypted under the current one. */
export function needsReencryption(keys: readonly EncryptionKey[], keyId: string): boolean {
  return keys[0]?.id !== keyId;
}
