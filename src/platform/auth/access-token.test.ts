import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { loadConfig } from '../../config/config.ts';
import { createAccessTokenVerifier, signAccessToken } from './access-token.ts';

const claims = {
  tenantId: '0190a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e',
  userId: '0190a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6f',
  sessionId: '0190a5c2-7d1e-7b3c-9f00-5a1f3c2b4d70',
};

test('a verified token is remembered only until it expires; a changed token is never taken from the cache', async () => {
  const config = loadConfig({ NODE_ENV: 'test', ACCESS_TOKEN_TTL_SECONDS: '60' }).authentication;
  mock.timers.enable({ apis: ['Date'], now: Date.now() });
  try {
    const token = await signAccessToken(config, claims);
    const verifier = createAccessTokenVerifier(config);
    assert.deepEqual(await verifier.verify(token), claims);
    assert.deepEqual(await verifier.verify(token), claims, 'from the cache');
    // A character in the middle of the signature: the last one may only carry base64 padding bits.
    const middle = token.length - 20;
    const altered = `${token.slice(0, middle)}${token[middle] === 'A' ? 'B' : 'A'}${token.slice(middle + 1)}`;
    assert.equal(await verifier.verify(altered), undefined);
    mock.timers.tick(61_000);
    assert.equal(await verifier.verify(token), undefined, 'an expired token fails even though it was cached');
  } finally {
    mock.timers.reset();
  }
});

test('a token signed under another configuration (another key) does not verify', async () => {
  const mine = loadConfig({ NODE_ENV: 'test' }).authentication;
  const theirs = loadConfig({ NODE_ENV: 'test' }).authentication;
  const token = await signAccessToken(theirs, claims);
  assert.equal(await createAccessTokenVerifier(mine).verify(token), undefined);
});
