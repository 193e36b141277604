import { exportJWK, type JWK, type JWTVerifyGetKey, jwtVerify, SignJWT } from 'jose';
import type { AuthenticationConfig, VerificationKey } from './authentication-config.ts';

/** What an access token says: whose session it belongs to. Everything else is read from the session row. */
export interface AccessTokenClaims {
  tenantId: string;
  userId: string;
  sessionId: string;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const accessTokenAudience = 'corebank-api';

export async function signAccessToken(
  config: AuthenticationConfig,
  claims: AccessTokenClaims,
): Promise<string> {
  const { signingKey } = config;
  return new SignJWT({ tid: claims.tenantId, sid: claims.sessionId })
    .setProtectedHeader({ alg: signingKey.algorithm, kid: signingKey.keyId, typ: 'at+jwt' })
    .setSubject(claims.userId)
    .setIssuer(config.issuer)
    .setAudience(accessTokenAudience)
    .setIssuedAt()
    .setExpirationTime(`${config.accessTokenTtlSeconds}s`)
    .sign(signingKey.privateKey);
}

function keyResolver(keys: readonly VerificationKey[]): JWTVerifyGetKey {
  const byId = new Map(keys.map((key) => [key.keyId, key]));
  return (header) => {
    const key = header.kid === undefined ? undefined : byId.get(header.kid);
    // The algorithm must be the key's own: a token cannot choose how it is checked.
    if (!key || header.alg !== key.algorithm) throw new Error('unknown key or algorithm');
    return key.publicKey;
  };
}

export interface AccessTokenVerifier {
  verify(token: string): Promise<AccessTokenClaims | undefined>;
}

/**
 * Verified tokens are remembered by their exact text until they expire: a client sends the same
 * access token on every request for its whole lifetime, and the signature check is most of the
 * per-request cost. The claims of a token never change, so the cache cannot go stale; whether the
 * session is still alive is checked on every request regardless (auth-guard.ts).
 */
export const verifiedTokenCacheEntriesMax = 10_000;

interface CachedClaims {
  claims: AccessTokenClaims;
  expiresAtMs: number;
}

/**
 * Verifies signature (asymmetric only; `alg: none` and HMAC algorithms are never accepted), key id,
 * issuer, audience and expiry. Any failure is `undefined`: the caller answers 401 without saying why.
 */
export function createAccessTokenVerifier(config: AuthenticationConfig): AccessTokenVerifier {
  const resolveKey = keyResolver(config.verificationKeys);
  const algorithms = [...new Set(config.verificationKeys.map((key) => key.algorithm))];
  const verified = new Map<string, CachedClaims>();
  const remember = (token: string, entry: CachedClaims) => {
    // A Map iterates in insertion order: dropping the first key drops the oldest entry.
    if (verified.size >= verifiedTokenCacheEntriesMax) {
      const oldest = verified.keys().next();
      if (!oldest.done) verified.delete(oldest.value);
    }
    verified.set(token, entry);
  };
  return {
    async verify(token) {
      const cached = verified.get(token);
      if (cached) {
        if (cached.expiresAtMs > Date.now()) return cached.claims;
        verified.delete(token);
        return undefined;
      }
      try {
        const { payload } = await jwtVerify(token, resolveKey, {
          algorithms,
          issuer: config.issuer,
          audience: accessTokenAudience,
          requiredClaims: ['exp', 'iat', 'sub'],
          clockTolerance: 5,
        });
        const { tid, sid, sub, exp } = payload as {
          tid?: unknown;
          sid?: unknown;
          sub?: unknown;
          exp?: unknown;
        };
        if (typeof tid !== 'string' || typeof sid !== 'string' || typeof sub !== 'string') return undefined;
        if (!uuidPattern.test(tid) || !uuidPattern.test(sid) || !uuidPattern.test(sub)) return undefined;
        if (typeof exp !== 'number') return undefined;
        const claims = { tenantId: tid, userId: sub, sessionId: sid };
        remember(token, { claims, expiresAtMs: exp * 1000 });
        return claims;
      } catch {
        return undefined;
      }
    },
  };
}

/** The public keys as a JWKS document for `/.well-known/jwks.json`. */
export async function publicJwks(config: AuthenticationConfig): Promise<{ keys: JWK[] }> {
  const keys = await Promise.all(
    config.verificationKeys.map(async (key) => ({
      ...(await exportJWK(key.publicKey)),
      kid: key.keyId,
      alg: key.algorithm,
      use: 'sig',
    })),
  );
  return { keys };
}
