import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomUUID,
} from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../config/config.ts';
import type { SigningKey } from './authentication-config.ts';

/**
 * The development access-token key, persisted in the data directory. Without it every development
 * process generated its own pair, so a restart logged everybody out and a second process (or a second
 * worker of `serve --workers`) refused the tokens of the first.
 *
 * Only this key is generated and persisted. The other development secrets (PIN pepper, token-hash key,
 * MFA encryption key, audit HMAC key) are fixed, public development constants in config.ts: they
 * protect data stored in the database (PIN hashes, encrypted TOTP secrets, audit signatures), so they
 * must follow the database, and a random key under DATA_DIR would not when DATABASE_URL points several
 * checkouts at one server. A lost signing key only logs people out.
 */
export const developmentSigningKeyFileName = 'development-access-token-key.pem';

/** Production and configured keys are left alone; a development server without JWT_PRIVATE_KEY gets the persisted pair. */
export function withPersistedDevelopmentSigningKey(config: Config): Config {
  const authentication = config.authentication;
  if (config.environment !== 'development' || authentication.signingKeySource !== 'generated') return config;
  const signingKey = persistedSigningKey(config.dataDirectory, authentication.signingKey.keyId);
  const [, ...previousKeys] = authentication.verificationKeys;
  return {
    ...config,
    authentication: { ...authentication, signingKey, verificationKeys: [signingKey, ...previousKeys] },
  };
}

/**
 * Reads the key file, creating it first when it does not exist. Creation is exclusive and whole: the
 * PEM is written to a private temporary file (mode 0600) and hard-linked into place, which fails when
 * the name exists, so two processes racing create one key, the loser reads the winner's, and nobody
 * ever reads a half-written file.
 */
export function persistedSigningKey(dataDirectory: string, keyId: string): SigningKey {
  const path = join(dataDirectory, developmentSigningKeyFileName);
  const existing = readPem(path);
  if (existing !== undefined) return signingKeyFrom(existing, keyId, path);
  mkdirSync(dataDirectory, { recursive: true });
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const temporary = `${path}.${process.pid}-${randomUUID()}.tmp`;
  writeFileSync(temporary, pem, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
  const winner = readPem(path);
  if (winner === undefined)
    throw new Error(`the development signing key ${path} vanished while it was created`);
  return signingKeyFrom(winner, keyId, path);
}

function readPem(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function signingKeyFrom(pem: string, keyId: string, path: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new Error(`${path} is not a PEM private key; delete it to generate a new development signing key`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(`${path} is not an Ed25519 key; delete it to generate a new development signing key`);
  }
  return { keyId, algorithm: 'EdDSA', privateKey, publicKey: createPublicKey(privateKey) };
}
