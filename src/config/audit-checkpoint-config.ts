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
  /** The Ed25519 public key checkpoints are verified with: configured, or derived from the signing key. */
  publicKey: KeyObject | undefined;
}

const intervalMsMin = 1000;
const intervalMsMax = 7 * 24 * 3600 * 1000;

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

function isPrivateKey(pem: string): boolean {
  try {
    createPrivateKey(pem);
    return true;
  } catch {
    return false;
  }
}

function parseEd25519(variable: string, raw: string, kind: 'private' | 'public'): KeyObject | undefined {
  const pem = raw.replaceAll('\\n', '\n');
  let key: KeyObject;
  try {
    key = kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
  } catch {
    const reason = `is not a PEM ${kind === 'private' ? 'PKCS#8 private' : 'SPKI public'} key`;
    return reportInvalid(new ConfigurationError(variable, reason), undefined);
  }
  // createPublicKey also accepts a private key (deriving its public half); a public setting must not hold a secret.
  const privateInPublicSetting = kind === 'public' && isPrivateKey(pem);
  if (privateInPublicSetting || key.asymmetricKeyType !== 'ed25519') {
    return reportInvalid(new ConfigurationError(variable, `must be an Ed25519 ${kind} key`), undefined);
  }
  return key;
}

/**
 * AUDIT_CHECKPOINT_SIGNING_KEY is a PKCS#8 PEM Ed25519 key (`openssl genpkey -algorithm ed25519`; a
 * literal `\n` stands for a newline). Development and test fall back to a fixed development key;
 * production refuses to start without one while the schedule is on. AUDIT_CHECKPOINT_PUBLIC_KEY (an
 * SPKI PEM) lets a host that only verifies do so without the private key; given both, they must match.
 */
function readKeys(
  source: Source,
  environment: Environment,
  intervalMs: number,
): Pick<AuditCheckpointConfig, 'signingKey' | 'publicKey'> {
  const rawPrivate = source.AUDIT_CHECKPOINT_SIGNING_KEY;
  const rawPublic = source.AUDIT_CHECKPOINT_PUBLIC_KEY;
  let signingKey: KeyObject | undefined;
  if (rawPrivate !== undefined && rawPrivate !== '') {
    signingKey = parseEd25519('AUDIT_CHECKPOINT_SIGNING_KEY', rawPrivate, 'private');
  } else if (environment !== 'production') {
    signingKey = developmentSigningKey();
  } else if (intervalMs !== 0) {
    const reason =
      'is required in production while AUDIT_CHECKPOINT_INTERVAL_MS is not 0 (PKCS#8 PEM, Ed25519)';
    reportInvalid(new ConfigurationError('AUDIT_CHECKPOINT_SIGNING_KEY', reason), undefined);
  }
  const derived = signingKey ? createPublicKey(signingKey) : undefined;
  if (rawPublic === undefined || rawPublic === '') return { signingKey, publicKey: derived };
  const publicKey = parseEd25519('AUDIT_CHECKPOINT_PUBLIC_KEY', rawPublic, 'public');
  const spki = (key: KeyObject) => key.export({ format: 'der', type: 'spki' });
  if (publicKey && derived && !spki(publicKey).equals(spki(derived))) {
    const reason = 'does not match AUDIT_CHECKPOINT_SIGNING_KEY';
    reportInvalid(new ConfigurationError('AUDIT_CHECKPOINT_PUBLIC_KEY', reason), undefined);
  }
  return { signingKey, publicKey };
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
