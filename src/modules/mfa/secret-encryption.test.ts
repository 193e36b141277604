import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decryptSecret, encryptSecret, needsReencryption } from './secret-encryption.ts';

const oldKey = { id: 'm1', key: Buffer.alloc(32, 1) };
const newKey = { id: 'm2', key: Buffer.alloc(32, 2) };

test('TOTP secrets are AES-256-GCM: round trip, no plaintext, bound to tenant and user, tamper-evident', () => {
  const encrypted = encryptSecret([oldKey], 'tenant-a', 'user-1', 'JBSWY3DPEHPK3PXP');
  assert.ok(!encrypted.ciphertext.includes('JBSWY3DPEHPK3PXP'));
  assert.equal(encrypted.keyId, 'm1');
  assert.equal(decryptSecret([oldKey], 'tenant-a', 'user-1', encrypted), 'JBSWY3DPEHPK3PXP');
  assert.throws(() => decryptSecret([oldKey], 'tenant-a', 'user-2', encrypted), 'copied onto another user');
  const parts = encrypted.ciphertext.split('.');
  const body = Buffer.from(parts[3] ?? '', 'base64url');
  body[0] = (body[0] ?? 0) ^ 1;
  parts[3] = body.toString('base64url');
  assert.throws(() =>
    decryptSecret([oldKey], 'tenant-a', 'user-1', { ...encrypted, ciphertext: parts.join('.') }),
  );
});

test('after key rotation old ciphertexts still decrypt and are flagged for re-encryption', () => {
  const encrypted = encryptSecret([oldKey], 't', 'u', 'SECRET');
  const keys = [newKey, oldKey];
  assert.equal(decryptSecret(keys, 't', 'u', encrypted), 'SECRET');
  assert.equal(needsReencryption(keys, encrypted.keyId), true);
  const again = encryptSecret(keys, 't', 'u', 'SECRET');
  assert.equal(again.keyId, 'm2');
  assert.equal(needsReencryption(keys, again.keyId), false);
  assert.throws(() => decryptSecret([newKey], 't', 'u', encrypted), 'a key that is no longer configured');
});

test('invariant: encrypting with no key configured crashes loudly (AssertionError), never stores plaintext', () => {
  assert.throws(() => encryptSecret([], 't', 'u', 'SECRET'), assert.AssertionError);
});

test('invariant: a stored ciphertext in a shape encryptSecret never writes crashes loudly (AssertionError)', () => {
  assert.throws(
    () => decryptSecret([oldKey], 't', 'u', { ciphertext: 'v0.not-ours', keyId: 'm1' }),
    assert.AssertionError,
  );
});
