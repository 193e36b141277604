import assert from 'node:assert/strict';
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  type DecipherGCM,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { BackupKey } from '../../config/backup-config.ts';
import { BackupError } from './backup-errors.ts';

/**
 * An encrypted backup file is `CBKAES1\n`, a 12-byte IV, the AES-256-GCM ciphertext of the gzip stream,
 * and the 16-byte GCM tag. The magic and IV are the additional authenticated data. Encryption and
 * decryption stream: at most one chunk (and the tag's 16 bytes) is held in memory.
 */
export const encryptionAlgorithm = 'aes-256-gcm';
const magic = Buffer.from('CBKAES1\n', 'ascii');
const ivBytes = 12;
const tagBytes = 16;
const preambleBytes = magic.length + ivBytes;

/** Streams plaintext in and the encrypted file format out. */
export function createEncryptStream(key: Buffer): Transform {
  assert.equal(key.length, 32, 'an AES-256 key is 32 bytes');
  const iv = randomBytes(ivBytes);
  const preamble = Buffer.concat([magic, iv]);
  const cipher = createCipheriv(encryptionAlgorithm, key, iv);
  cipher.setAAD(preamble);
  let started = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const encrypted = cipher.update(chunk);
      if (!started) {
        started = true;
        done(null, Buffer.concat([preamble, encrypted]));
        return;
      }
      done(null, encrypted);
    },
    flush(done) {
      const last = cipher.final();
      done(null, Buffer.concat([started ? Buffer.alloc(0) : preamble, last, cipher.getAuthTag()]));
    },
  });
}

/**
 * Streams the encrypted file format in and plaintext out. The GCM tag is checked at the end: a file
 * altered anywhere fails there with BACKUP_DECRYPTION_FAILED, so a restore (one transaction) rolls back.
 */
export class DecryptStream extends Transform {
  #pending = Buffer.alloc(0);
  #decipher: DecipherGCM | undefined;

  constructor(
    private readonly key: Buffer,
    private readonly file: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      done(null, this.#decrypt(chunk));
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    if (!this.#decipher || this.#pending.length !== tagBytes) {
      done(this.#failure('is truncated'));
      return;
    }
    try {
      this.#decipher.setAuthTag(this.#pending);
      done(null, this.#decipher.final());
    } catch {
      done(this.#failure('does not authenticate (altered, or encrypted with another key)'));
    }
  }

  /** The plaintext this chunk releases; the last 16 bytes seen may be the tag, so they wait for the end. */
  #decrypt(chunk: Buffer): Buffer | undefined {
    this.#pending = Buffer.concat([this.#pending, chunk]);
    if (!this.#decipher) {
      if (this.#pending.length < preambleBytes) return undefined;
      const preamble = this.#pending.subarray(0, preambleBytes);
      if (!preamble.subarray(0, magic.length).equals(magic)) throw this.#failure('is not encrypted');
      this.#decipher = createDecipheriv(encryptionAlgorithm, this.key, preamble.subarray(magic.length));
      this.#decipher.setAAD(preamble);
      this.#pending = this.#pending.subarray(preambleBytes);
    }
    const releasable = this.#pending.length - tagBytes;
    if (releasable <= 0) return undefined;
    const output = this.#decipher.update(this.#pending.subarray(0, releasable));
    this.#pending = Buffer.from(this.#pending.subarray(releasable));
    return output;
  }

  #failure(problem: string): BackupError {
    return new BackupError(
      'BACKUP_DECRYPTION_FAILED',
      `encrypted backup ${this.file} ${problem}; use another backup`,
    );
  }
}

/**
 * A short public fingerprint of the encryption key, kept in the manifest so that a wrong key is refused
 * at once with a clear message instead of as a decompression error. It is an HMAC output: it reveals
 * nothing about the key.
 */
export function encryptionKeyCheck(key: Buffer): string {
  return createHmac('sha256', key).update('corebank backup encryption key check').digest('hex').slice(0, 16);
}

/** JSON with object keys sorted at every depth: the exact bytes the manifest MAC covers. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, item]) => item !== undefined)
      .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
    return `{${entries.map(([name, item]) => `${JSON.stringify(name)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function manifestMac(unsigned: object, key: BackupKey): string {
  return createHmac('sha256', key.key).update(canonicalJson(unsigned)).digest('hex');
}

export function macMatches(expectedHex: string, actualHex: string): boolean {
  const expected = Buffer.from(expectedHex, 'hex');
  const actual = Buffer.from(actualHex, 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
