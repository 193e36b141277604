import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { exportJWK, SignJWT } from 'jose';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { accessTokenAudience } from '../../src/platform/auth/access-token.ts';
import { bearer, ensureTenant, loginCustomer } from '../helpers/auth.ts';
import { createHarness, type Harness, secretsNeverLeakTest } from './harness.ts';

let harness: Harness;
let tenantId: string;

before(async () => {
  harness = await createHarness();
  tenantId = await ensureTenant(harness.app);
});

after(async () => {
  await harness.close();
});

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function getMe(authorization: string | undefined, extraHeaders: Record<string, string> = {}) {
  const headers: Record<string, string> = { ...extraHeaders };
  if (authorization !== undefined) headers.authorization = authorization;
  return harness.app.inject({ method: 'GET', url: '/v1/me', headers });
}

function claimsOf(token: string): Record<string, unknown> {
  const [, payload] = token.split('.');
  return JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('access token verification', () => {
  test('no token, a malformed header or garbage is 401 UNAUTHENTICATED', async () => {
    for (const header of [
      undefined,
      'Bearer',
      'Basic dXNlcjpwYXNz',
      'Bearer not-a-jwt',
      `Bearer ${'a'.repeat(5000)}`,
    ]) {
      const response = await getMe(header);
      assert.equal(response.statusCode, 401, String(header));
      assert.equal((response.json() as { error: { code: string } }).error.code, 'UNAUTHENTICATED');
    }
  });

  test('alg none is 401', async () => {
    const customer = await loginCustomer(harness.app);
    const claims = claimsOf(customer.accessToken);
    const unsigned = `${base64url({ alg: 'none', typ: 'JWT', kid: harness.config.authentication.signingKey.keyId })}.${base64url(claims)}.`;
    assert.equal((await getMe(`Bearer ${unsigned}`)).statusCode, 401);
  });

  test('a token signed by another key under the same kid is 401', async () => {
    const customer = await loginCustomer(harness.app);
    const claims = claimsOf(customer.accessToken);
    const stranger = generateKeyPairSync('ed25519');
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', kid: harness.config.authentication.signingKey.keyId })
      .sign(stranger.privateKey);
    assert.equal((await getMe(`Bearer ${forged}`)).statusCode, 401);
  });

  test('an HS256 token keyed with the public key (algorithm confusion) is 401', async () => {
    const customer = await loginCustomer(harness.app);
    const claims = claimsOf(customer.accessToken);
    const publicJwk = await exportJWK(harness.config.authentication.signingKey.publicKey);
    const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
    const confused = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: harness.config.authentication.signingKey.keyId })
      .sign(secret);
    assert.equal((await getMe(`Bearer ${confused}`)).statusCode, 401);
  });

  test('an expired token is 401, though its signature and session are good', async () => {
    const customer = await loginCustomer(harness.app);
    const { signingKey, issuer } = harness.config.authentication;
    const nowSeconds = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ tid: customer.tenantId, sid: customer.sessionId })
      .setProtectedHeader({ alg: signingKey.algorithm, kid: signingKey.keyId })
      .setSubject(customer.userId)
      .setIssuer(issuer)
      .setAudience(accessTokenAudience)
      .setIssuedAt(nowSeconds - 3600)
      .setExpirationTime(nowSeconds - 60)
      .sign(signingKey.privateKey);
    assert.equal((await getMe(`Bearer ${expired}`)).statusCode, 401);
    assert.equal((await getMe(`Bearer ${customer.accessToken}`)).statusCode, 200);
  });

  test('an altered token (payload or signature changed) is 401', async () => {
    const customer = await loginCustomer(harness.app);
    const other = await loginCustomer(harness.app);
    const [header, , signature] = customer.accessToken.split('.');
    const swapped = `${header}.${base64url({ ...claimsOf(customer.accessToken), sub: other.userId })}.${signature}`;
    assert.equal((await getMe(`Bearer ${swapped}`)).statusCode, 401);
    // A character inside the signature: the last one may carry nothing but base64 padding bits.
    const at = customer.accessToken.length - 20;
    const flipped = `${customer.accessToken.slice(0, at)}${customer.accessToken[at] === 'A' ? 'B' : 'A'}${customer.accessToken.slice(at + 1)}`;
    assert.equal((await getMe(`Bearer ${flipped}`)).statusCode, 401);
  });

  test('a token naming a session of another user is 401 (sub and sid must agree)', async () => {
    const customer = await loginCustomer(harness.app);
    const other = await loginCustomer(harness.app);
    const { signingKey, issuer } = harness.config.authentication;
    const mixed = await new SignJWT({ tid: customer.tenantId, sid: other.sessionId })
      .setProtectedHeader({ alg: signingKey.algorithm, kid: signingKey.keyId })
      .setSubject(customer.userId)
      .setIssuer(issuer)
      .setAudience(accessTokenAudience)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(signingKey.privateKey);
    assert.equal((await getMe(`Bearer ${mixed}`)).statusCode, 401);
  });

  test('the JWKS publishes the verification key with its kid', async () => {
    const response = await harness.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    assert.equal(response.statusCode, 200);
    const { keys } = response.json() as { keys: { kid: string; alg: string; d?: string }[] };
    assert.equal(keys[0]?.kid, harness.config.authentication.signingKey.keyId);
    assert.equal(keys[0]?.alg, 'EdDSA');
    assert.equal(keys[0]?.d, undefined, 'the private part is never published');
  });

  test('keys rotate without logging anyone out: a new key signs, the previous one still verifies', async () => {
    const customer = await loginCustomer(harness.app);
    const previous = await exportJWK(harness.config.authentication.signingKey.publicKey);
    const next = generateKeyPairSync('ed25519');
    const rotatedConfig = loadConfig({
      NODE_ENV: 'test',
      JWT_PRIVATE_KEY: next.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      JWT_KEY_ID: 'rotated-2',
      JWT_PREVIOUS_PUBLIC_KEYS: JSON.stringify({
        keys: [{ ...previous, kid: harness.config.authentication.signingKey.keyId }],
      }),
    });
    const rotated = await buildApp({ config: rotatedConfig, database: harness.database, logger: false });
    try {
      await rotated.ready();
      const me = await rotated.inject({ method: 'GET', url: '/v1/me', headers: bearer(customer) });
      assert.equal(me.statusCode, 200, 'a token of the previous key still works');
      const jwks = (await rotated.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as {
        keys: { kid: string }[];
      };
      assert.deepEqual(
        jwks.keys.map((key) => key.kid),
        ['rotated-2', harness.config.authentication.signingKey.keyId],
      );
      const refreshed = await rotated.inject({
        method: 'POST',
        url: '/v1/auth/refresh',
        payload: { refresh_token: customer.refreshToken },
      });
      assert.equal(refreshed.statusCode, 200);
      const token = (refreshed.json() as { access_token: string }).access_token;
      const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as {
        kid: string;
      };
      assert.equal(header.kid, 'rotated-2');
    } finally {
      await rotated.close();
    }
  });
});

describe('session validity on every request', () => {
  test('a logged-out session fails on the very next request', async () => {
    const customer = await loginCustomer(harness.app);
    assert.equal((await getMe(`Bearer ${customer.accessToken}`)).statusCode, 200);
    const logout = await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      headers: bearer(customer),
    });
    assert.equal(logout.statusCode, 200);
    assert.equal((await getMe(`Bearer ${customer.accessToken}`)).statusCode, 401);
  });

  test('a session past its idle timeout or its absolute lifetime is 401', async () => {
    const idle = await loginCustomer(harness.app);
    const old = await loginCustomer(harness.app);
    await withScope(harness.database.db, { tenantId }, async (transaction) => {
      await transaction
        .updateTable('device_sessions')
        .set({ expires_at: new Date(Date.now() - 1000) })
        .where('id', '=', idle.sessionId)
        .execute();
      await transaction
        .updateTable('device_sessions')
        .set({ expires_at: new Date(Date.now() - 2000), absolute_expires_at: new Date(Date.now() - 1000) })
        .where('id', '=', old.sessionId)
        .execute();
    });
    assert.equal((await getMe(`Bearer ${idle.accessToken}`)).statusCode, 401);
    assert.equal((await getMe(`Bearer ${old.accessToken}`)).statusCode, 401);
  });

  test('activity slides the idle expiry forward, never past the absolute lifetime', async () => {
    const customer = await loginCustomer(harness.app);
    const absolute = new Date(Date.now() + 60_000);
    await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .updateTable('device_sessions')
        .set({
          last_activity_at: new Date(Date.now() - 600_000),
          expires_at: new Date(Date.now() + 30_000),
          absolute_expires_at: absolute,
        })
        .where('id', '=', customer.sessionId)
        .execute(),
    );
    assert.equal((await getMe(`Bearer ${customer.accessToken}`)).statusCode, 200);
    const row = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('device_sessions')
        .selectAll()
        .where('id', '=', customer.sessionId)
        .executeTakeFirstOrThrow(),
    );
    assert.ok(Date.now() - row.last_activity_at.getTime() < 5000, 'last activity was recorded');
    assert.equal(
      row.expires_at.getTime(),
      absolute.getTime(),
      'the idle expiry is capped by the absolute one',
    );
  });
});

describe('tenant isolation', () => {
  test("a token of tenant A never reads tenant B's data", async () => {
    const otherTenant = await ensureTenant(harness.app, 'other-bank');
    const inA = await loginCustomer(harness.app);
    const inB = await loginCustomer(harness.app, { tenantId: otherTenant });
    assert.notEqual(inA.tenantId, inB.tenantId);
    // Asking for tenant B with tenant A's token is refused outright.
    const crossed = await getMe(`Bearer ${inA.accessToken}`, { 'x-tenant-id': otherTenant });
    assert.equal(crossed.statusCode, 401);
    // Tenant A's token reads tenant A only, whatever it asks for.
    const mine = await getMe(`Bearer ${inA.accessToken}`);
    assert.equal((mine.json() as { tenant_id: string }).tenant_id, inA.tenantId);
    const sessions = await harness.app.inject({
      method: 'GET',
      url: '/v1/me/sessions',
      headers: bearer(inA),
    });
    const ids = (sessions.json() as { sessions: { id: string }[] }).sessions.map((session) => session.id);
    assert.ok(!ids.includes(inB.sessionId));
    const revoke = await harness.app.inject({
      method: 'DELETE',
      url: `/v1/me/sessions/${inB.sessionId}`,
      headers: bearer(inA),
    });
    assert.equal(revoke.statusCode, 404);
    assert.equal((await getMe(`Bearer ${inB.accessToken}`, { 'x-tenant-id': otherTenant })).statusCode, 200);
    // A refresh token of tenant B presented to tenant A is unknown there.
    const refresh = await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refresh_token: inB.refreshToken },
    });
    assert.equal(refresh.statusCode, 401);
  });
});

secretsNeverLeakTest(() => harness);
