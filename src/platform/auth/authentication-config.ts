import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  ConfigurationError,
  type Environment,
  readInteger,
  readString,
  reportInvalid,
  reportThrown,
} from '../../config/config-readers.ts';

/** One key that verifies access tokens, named by the `kid` header of the tokens it signed. */
export interface VerificationKey {
  keyId: string;
  algorithm: AccessTokenAlgorithm;
  publicKey: KeyObject;
}

export type AccessTokenAlgorithm = 'EdDSA' | 'ES256';

export interface SigningKey extends VerificationKey {
  privateKey: KeyObject;
}

/** A 32-byte AES-256-GCM key for TOTP secrets at rest; the first of the list encrypts, all decrypt. */
export interface EncryptionKey {
  id: string;
  key: Buffer;
}

export interface AuthenticationConfig {
  signingKey: SigningKey;
  /**
   * `generated`: no JWT_PRIVATE_KEY was given (development and test), so the key above is a fresh pair;
   * a development server replaces it with the pair persisted under DATA_DIR (development-signing-key.ts).
   */
  signingKeySource: 'configured' | 'generated';
  /** The signing key's public half first, then retired keys that still verify (rotation without logout). */
  verificationKeys: VerificationKey[];
  issuer: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** A rotated refresh token presented again within this window gets a fresh pair instead of a revocation. */
  refreshReuseGraceSeconds: number;
  sessionIdleTimeoutSeconds: number;
  sessionAbsoluteLifetimeSeconds: number;
  loginTokenTtlSeconds: number;
  otpAttemptsMax: number;
  lockoutThreshold: number;
  lockoutBaseMinutes: number;
  lockoutMaxMinutes: number;
  ipFailuresMax: number;
  ipFailureWindowMinutes: number;
  mfaEncryptionKeys: EncryptionKey[];
  trustedDeviceDays: number;
  staffPasswordMaxAgeDays: number;
  emailVerificationTtlMinutes: number;
  passwordResetTtlMinutes: number;
  /** How many SMS, emails and messages in all may go out per phone, per address and per client address. */
  sendLimits: SendLimits;
}

export interface SendLimit {
  max: number;
  windowMinutes: number;
}

export interface SendLimits {
  smsPerPhone: SendLimit;
  emailsPerAddress: SendLimit;
  messagesPerClientAddress: SendLimit;
}

type Source = Record<string, string | undefined>;

function algorithmOf(key: KeyObject, variable: string): AccessTokenAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  return reportInvalid(new ConfigurationError(variable, 'must be an Ed25519 or P-256 (ES256) key'), 'EdDSA');
}

/**
 * JWT_PRIVATE_KEY is a PKCS#8 PEM (a literal `\n` stands for a newline, for one-line environments).
 * Without one, development and test generate a fresh Ed25519 pair here; a development server then
 * swaps it for the pair persisted under DATA_DIR (so a restart or a second process accepts the tokens
 * the first issued), while test keeps it per process. Production refuses to start without a key.
 */
function readSigningKey(source: Source, environment: Environment): SigningKey {
  const raw = source.JWT_PRIVATE_KEY;
  const keyId = readString(source, 'JWT_KEY_ID', environment === 'production' ? '' : 'dev-ed25519');
  // The per-process pair stands in while loadConfig collects problems; production never starts on it.
  const generated = (): SigningKey => {
    const pair = generateKeyPairSync('ed25519');
    return { keyId, algorithm: 'EdDSA', privateKey: pair.privateKey, publicKey: pair.publicKey };
  };
  const missing = raw === undefined || raw === '';
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(keyId)) {
    const reason = 'is required with JWT_PRIVATE_KEY: 1-64 letters, digits, dot, dash';
    reportInvalid(new ConfigurationError('JWT_KEY_ID', reason), undefined);
  }
  if (missing) {
    if (environment !== 'production') return generated();
    const reason = 'is required in production (PKCS#8 PEM, Ed25519 or P-256)';
    return reportInvalid(new ConfigurationError('JWT_PRIVATE_KEY', reason), generated());
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(raw.replaceAll('\\n', '\n'));
  } catch {
    return reportInvalid(new ConfigurationError('JWT_PRIVATE_KEY', 'is not a PEM private key'), generated());
  }
  return {
    keyId,
    algorithm: algorithmOf(privateKey, 'JWT_PRIVATE_KEY'),
    privateKey,
    publicKey: createPublicKey(privateKey),
  };
}

/** JWT_PREVIOUS_PUBLIC_KEYS: a JSON JWKS (`{"keys":[{"kid":…,"kty":…}]}`) of retired keys that still verify. */
function readPreviousKeys(source: Source): VerificationKey[] {
  const raw = source.JWT_PREVIOUS_PUBLIC_KEYS;
  if (raw === undefined || raw === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigurationError('JWT_PREVIOUS_PUBLIC_KEYS', 'is not JSON (expected a JWKS)');
  }
  const keys = (parsed as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length > 10) {
    throw new ConfigurationError('JWT_PREVIOUS_PUBLIC_KEYS', 'must be {"keys": [...]} with at most 10 keys');
  }
  return keys.map((jwk: Record<string, unknown>) => {
    if (typeof jwk.kid !== 'string')
      throw new ConfigurationError('JWT_PREVIOUS_PUBLIC_KEYS', 'every key needs a kid');
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: jwk as never, format: 'jwk' });
    } catch {
      throw new ConfigurationError('JWT_PREVIOUS_PUBLIC_KEYS', `key ${jwk.kid} is not a public JWK`);
    }
    return { keyId: jwk.kid, algorithm: algorithmOf(publicKey, 'JWT_PREVIOUS_PUBLIC_KEYS'), publicKey };
  });
}

/** MFA_ENCRYPTION_KEY (64 hex) with MFA_ENCRYPTION_KEY_ID; MFA_PREVIOUS_ENCRYPTION_KEYS `id:hex,id:hex` still decrypt. */
function readMfaKeys(source: Source, environment: Environment): EncryptionKey[] {
  const raw = source.MFA_ENCRYPTION_KEY;
  const id = readString(source, 'MFA_ENCRYPTION_KEY_ID', 'm1');
  const development = { id, key: Buffer.from('corebank-development-mfa-key-32b', 'utf8') };
  let current: EncryptionKey;
  if (raw === undefined || raw === '') {
    const reason = 'is required in production (64 hex characters)';
    current =
      environment === 'production'
        ? reportInvalid(new ConfigurationError('MFA_ENCRYPTION_KEY', reason), development)
        : development;
  } else if (!/^[0-9a-fA-F]{64}$/.test(raw)) {
    const reason = 'must be 64 hex characters';
    current = reportInvalid(new ConfigurationError('MFA_ENCRYPTION_KEY', reason), development);
  } else {
    current = { id, key: Buffer.from(raw, 'hex') };
  }
  const previous = reportThrown(
    () =>
      (source.MFA_PREVIOUS_ENCRYPTION_KEYS ?? '')
        .split(',')
        .filter((item) => item.length > 0)
        .map((item) => {
          const [keyId, hex] = item.split(':');
          if (!keyId || !hex || !/^[0-9a-fA-F]{64}$/.test(hex)) {
            throw new ConfigurationError(
              'MFA_PREVIOUS_ENCRYPTION_KEYS',
              'must be id:64-hex pairs separated by commas',
            );
          }
          return { id: keyId, key: Buffer.from(hex, 'hex') };
        }),
    [],
  );
  return [current, ...previous];
}

function readSendLimit(source: Source, prefix: string, max: number, windowMinutes: number): SendLimit {
  return {
    max: readInteger(source, `${prefix}_MAX`, max, 1, 1_000_000),
    windowMinutes: readInteger(source, `${prefix}_WINDOW_MINUTES`, windowMinutes, 1, 1440),
  };
}

/**
 * Limits on messages sent on behalf of unauthenticated requests (OTP SMS, verification and reset
 * emails). The per-client-address default is off in tests (a suite registers hundreds of customers
 * from 127.0.0.1); the suites that test it set it.
 */
function readSendLimits(source: Source, environment: Environment): SendLimits {
  return {
    smsPerPhone: readSendLimit(source, 'SMS_SENDS_PER_PHONE', 5, 15),
    emailsPerAddress: readSendLimit(source, 'EMAIL_SENDS_PER_ADDRESS', 5, 15),
    messagesPerClientAddress: readSendLimit(
      source,
      'MESSAGE_SENDS_PER_CLIENT_ADDRESS',
      environment === 'test' ? 1_000_000 : 30,
      15,
    ),
  };
}

export function readAuthenticationConfig(source: Source, environment: Environment): AuthenticationConfig {
  const signingKey = readSigningKey(source, environment);
  const signingKeyConfigured = source.JWT_PRIVATE_KEY !== undefined && source.JWT_PRIVATE_KEY !== '';
  const absolute = readInteger(source, 'SESSION_ABSOLUTE_LIFETIME_SECONDS', 7 * 86_400, 60, 90 * 86_400);
  const config: AuthenticationConfig = {
    signingKey,
    signingKeySource: signingKeyConfigured ? 'configured' : 'generated',
    verificationKeys: [signingKey, ...reportThrown(() => readPreviousKeys(source), [])],
    issuer: readString(source, 'JWT_ISSUER', 'corebank'),
    accessTokenTtlSeconds: readInteger(source, 'ACCESS_TOKEN_TTL_SECONDS', 900, 30, 3600),
    refreshTokenTtlSeconds: readInteger(source, 'REFRESH_TOKEN_TTL_SECONDS', absolute, 60, 90 * 86_400),
    refreshReuseGraceSeconds: readInteger(source, 'REFRESH_REUSE_GRACE_SECONDS', 10, 0, 120),
    sessionIdleTimeoutSeconds: readInteger(source, 'SESSION_IDLE_TIMEOUT_SECONDS', 30 * 60, 60, 30 * 86_400),
    sessionAbsoluteLifetimeSeconds: absolute,
    loginTokenTtlSeconds: readInteger(source, 'LOGIN_TOKEN_TTL_SECONDS', 300, 30, 1800),
    otpAttemptsMax: readInteger(source, 'OTP_ATTEMPTS_MAX', 3, 1, 10),
    lockoutThreshold: readInteger(source, 'LOCKOUT_THRESHOLD', 5, 2, 100),
    lockoutBaseMinutes: readInteger(source, 'LOCKOUT_MINUTES_BASE', 15, 1, 1440),
    lockoutMaxMinutes: readInteger(source, 'LOCKOUT_MINUTES_MAX', 24 * 60, 1, 30 * 1440),
    ipFailuresMax: readInteger(source, 'LOGIN_IP_FAILURES_MAX', 50, 3, 100_000),
    ipFailureWindowMinutes: readInteger(source, 'LOGIN_IP_FAILURE_WINDOW_MINUTES', 15, 1, 1440),
    mfaEncryptionKeys: readMfaKeys(source, environment),
    trustedDeviceDays: readInteger(source, 'TRUSTED_DEVICE_DAYS', 30, 1, 365),
    staffPasswordMaxAgeDays: readInteger(source, 'STAFF_PASSWORD_AGE_DAYS_MAX', 90, 1, 3650),
    emailVerificationTtlMinutes: readInteger(source, 'EMAIL_VERIFICATION_TTL_MINUTES', 24 * 60, 5, 30 * 1440),
    passwordResetTtlMinutes: readInteger(source, 'PASSWORD_RESET_TTL_MINUTES', 30, 5, 1440),
    sendLimits: readSendLimits(source, environment),
  };
  if (config.sessionIdleTimeoutSeconds > config.sessionAbsoluteLifetimeSeconds) {
    const reason = 'must not exceed SESSION_ABSOLUTE_LIFETIME_SECONDS';
    reportInvalid(new ConfigurationError('SESSION_IDLE_TIMEOUT_SECONDS', reason), undefined);
  }
  if (config.lockoutBaseMinutes > config.lockoutMaxMinutes) {
    const reason = 'must not exceed LOCKOUT_MINUTES_MAX';
    reportInvalid(new ConfigurationError('LOCKOUT_MINUTES_BASE', reason), undefined);
  }
  return config;
}
