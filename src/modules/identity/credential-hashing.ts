import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';

/**
 * Passwords: argon2id with OWASP's minimum parameters (19 MiB, 2 iterations, 1 lane). @node-rs/argon2
 * runs the hash on libuv's thread pool, off the event loop.
 */
// Algorithm is a const enum, which verbatimModuleSyntax cannot import: 2 is Algorithm.Argon2id.
const argon2id = 2 as Algorithm;
const passwordHashOptions = { algorithm: argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export function hashPassword(password: string): Promise<string> {
  return hash(password, passwordHashOptions);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  if (isLegacyBcryptHash(passwordHash)) return bcrypt.compare(password, passwordHash);
  if (!passwordHash.startsWith('$argon2')) return false;
  return verify(passwordHash, password);
}

/** Seed 002 stored bcrypt (cost 12) hashes; they still verify and are replaced by argon2id at the next login. */
export function isLegacyBcryptHash(passwordHash: string): boolean {
  return /^\$2[aby]\$\d{2}\$/.test(passwordHash);
}

let dummyHash: Promise<string> | undefined;

/**
 * Verifies against a throwaway hash, so a login for an unknown email costs what a known one costs and
 * the response time does not reveal which emails have accounts.
 */
export async function verifyDummyPassword(password: string): Promise<false> {
  dummyHash ??= hashPassword('corebank-timing-equaliser-not-a-password');
  await verify(await dummyHash, password);
  return false;
}

/**
 * PINs have only a million values, so no hash alone resists an offline search. They are stored as
 * HMAC-SHA256 under a server-side pepper (PIN_PEPPER, never in the database) with a per-PIN salt;
 * online guessing is stopped by attempt limits. Format: pinhmac$<pepper id>$<salt hex>$<mac hex>.
 */
export interface Pepper {
  id: string;
  key: Buffer;
}

export function hashPin(pin: string, pepper: Pepper): string {
  const salt = randomBytes(16).toString('hex');
  return `pinhmac$${pepper.id}$${salt}$${pinMac(pin, salt, pepper.key)}`;
}

export function verifyPin(pinHash: string, pin: string, peppers: readonly Pepper[]): boolean {
  const [scheme, pepperId, salt, mac] = pinHash.split('$');
  if (scheme !== 'pinhmac' || !salt || !mac) return false;
  const pepper = peppers.find((candidate) => candidate.id === pepperId);
  if (!pepper) return false;
  const expected = Buffer.from(pinMac(pin, salt, pepper.key), 'hex');
  const actual = Buffer.from(mac, 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

function pinMac(pin: string, salt: string, key: Buffer): string {
  return createHmac('sha256', key).update(`${salt}:${pin}`).digest('hex');
}

/** Keyed hash for one-time secrets (OTPs, login tokens, refresh tokens): looked up by exact value. */
export function hashSecretToken(token: string, key: Buffer): string {
  return createHmac('sha256', key).update(token).digest('hex');
}
