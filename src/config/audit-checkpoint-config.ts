import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { join, resolve } from 'node:path';
import {
  ConfigurationError,
  type Environment,
  readInteger,
  readString,
  reportInvalid,
  type Source,
} from './config-readers.ts';

/** Signed audit checkpoints written outside the database (issue 11 item 3; docs/operations.md). */
export interface AuditCheckpointConfig {
  /** AUDIT_CHECKPOINT_DIR: where checkpoint files are written and, by default, read from. */
  directory: string;
  /** AUDIT_CHECKPOINT_INTERVAL_MS: how often a server writes one per tenant whose head moved; 0 is off. */
  intervalMs: number;
  /** AUDIT_CHECKPOINT_KEY_NAME: the name on the signature line, so a verifier knows which key to use. */
  keyName: string;
  /** The Ed25519 private key; undefined when none is configured (production with the schedule off). */
  signingKey: KeyObject | undefined;
  /**
   * The Ed25519 public keys a checkpoint may be signed by: the signing key's own first (the one
   * `audit checkpoint-key` prints), then those of AUDIT_CHECKPOINT_PUBLIC_KEY.
   */
  publicKeys: KeyObject[];
}

const intervalMsMin = 1000;
const intervalMsMax = 7 * 24 * 3600 * 1000;
const publicKeysMax = 10;

// The DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows it.
const pkcs8Ed25519Prefix = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * A fixed development key, like AUDIT_HMAC_KEY's: checkpoints written by a development server stay
 * verifiable across restarts. Its seed is public, so it proves nothing outside development and test.
 */
function developmentSigningKey(): KeyObject {
  const seed = createHash('sha256').update('corebank-development-audit-checkpoint-key').digest();
  return createPrivateKey({ key: Buffer.concat([pkcs8Ed25519Prefix, seed]), format: 'der', type: 'pkcs8' });
}

function readInterval(source: Source, environment: Environment): number {
  // Off in test, so suites write no files unless they ask; hourly elsewhere.
  const fallback = environment === 'test' ? 0 : 3_600_000;
  const intervalMs = readInteger(source, 'AUDIT_CHECKPOINT_INTERVAL_MS', fallback, 0, intervalMsMax);
  if (intervalMs !== 0 && intervalMs < intervalMsMin) {
    const reason = `must be 0 (off) or at least ${intervalMsMin}, got ${intervalMs}`;
    return reportInvalid(new ConfigurationError('AUDIT_CHECKPOINT_INTERVAL_MS', reason), fallback);
  }
  return intervalMs;
}

function parseSigningKey(raw: string): KeyObject | undefined {
  let key: KeyObject;
  try {
    key = createPrivateKey(raw.replaceAll('\\n', '\n'));
  } catch {
    const reason = 'is not a PEM PKCS#8 private key';
    return reportInvalid(new ConfigurationError('AUDIT_CHECKPOINT_SIGNING_KEY', reason), undefined);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    const reason = 'must be an Ed25519 private key';
    return reportInvalid(new ConfigurationError('AUDIT_CHECKPOINT_SIGNING_KEY', reason), undefined);
  }
  return key;
}

/** One or more SPKI PEM blocks: the current key and retired ones whose checkpoints must still verify. */
function parsePublicKeys(raw: string): KeyObject[] {
  const variable = 'AUDIT_CHECKPOINT_PUBLIC_KEY';
  const pem = raw.replaceAll('\\n', '\n');
  // createPublicKey accepts a private key too (deriving its public half); this setting must hold no secret.
  if (pem.includes('PRIVATE KEY')) {
    return reportInvalid(
      new ConfigurationError(variable, 'must hold public keys only, not a private key'),
      [],
    );
  }
  const blocks = pem.match(/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g) ?? [];
  if (blocks.length === 0 || blocks.length > publicKeysMax) {
    const reason = `must be 1 to ${publicKeysMax} SPKI PEM public keys`;
    return reportInvalid(new ConfigurationError(variable, reason), []);
  }
  const keys: KeyObject[] = [];
  for (const block of blocks) {
    let key: KeyObject;
    try {
      key = createPublicKey(block);
    } catch {
      return reportInvalid(
        new ConfigurationError(variable, 'holds a block that is not a PEM public key'),
        [],
      );
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      return reportInvalid(new ConfigurationError(variable, 'must hold Ed25519 public keys'), []);
    }
    keys.push(key);
  }
  return keys;
}

/**
 * AUDIT_CHECKPOINT_SIGNING_KEY is a PKCS#8 PEM Ed25519 key (`openssl genpkey -algorithm ed25519`; a
 * literal `\n` stands for a newline). Development and test fall back to a fixed development key
 * (unless public keys are configured: then the host only verifies);
 * production refuses to start without one while the schedule is on. Checkpoints verify under the
 * signing key's public half and every key in AUDIT_CHECKPOINT_PUBLIC_KEY (SPKI PEMs: retired keys, or
 * the current one on a host that only verifies).
 */
function readKeys(
  source: Source,
  environment: Environment,
  intervalMs: number,
): Pick<AuditCheckpointConfig, 'signingKey' | 'publicKeys'> {
  const rawPrivate = source.AUDIT_CHECKPOINT_SIGNING_KEY;
  const rawPublic = source.AUDIT_CHECKPOINT_PUBLIC_KEY;
  const publicConfigured = rawPublic !== undefined && rawPublic !== '';
  let signingKey: KeyObject | undefined;
  if (rawPrivate !== undefined && rawPrivate !== '') {
    signingKey = parseSigningKey(rawPrivate);
  } else if (environment !== 'production' && !publicConfigured) {
    // Not beside configured public keys: a verifying host must not also accept the public development key.
    signingKey = developmentSigningKey();
  } else if (environment === 'production' && intervalMs !== 0) {
    const reason =
      'is required in production while AUDIT_CHECKPOINT_INTERVAL_MS is not 0 (PKCS#8 PEM, Ed25519)';
    reportInvalid(new ConfigurationError('AUDIT_CHECKPOINT_SIGNING_KEY', reason), undefined);
  }
  const configured = publicConfigured ? parsePublicKeys(rawPublic) : [];
  const publicKeys = signingKey ? [createPublicKey(signingKey)] : [];
  const spki = (key: KeyObject) => key.export({ format: 'der', type: 'spki' });
  for (const key of configured) {
    if (!publicKeys.some((known) => spki(known).equals(spki(key)))) publicKeys.push(key);
  }
  return { signingKey, publicKeys };
}

export function readAuditCheckpointConfig(
  source: Source,
  environment: Environment,
  dataDirectory: string,
): AuditCheckpointConfig {
  const intervalMs = readInterval(source, environment);
  const keyName = readString(source, 'AUDIT_CHECKPOINT_KEY_NAME', 'corebank-audit');
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(keyName)) {
    const reason = 'must be 1-64 letters, digits, dot, dash or underscore';
    reportInvalid(new ConfigurationError('AUDIT_CHECKPOINT_KEY_NAME', reason), undefined);
  }
  return {
    directory: resolve(readString(source, 'AUDIT_CHECKPOINT_DIR', join(dataDirectory, 'audit-checkpoints'))),
    intervalMs,
    keyName,
    ...readKeys(source, environment, intervalMs),
  };
}
