import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { createEncryptStream } from './backup-crypto.ts';

/** Backups and retention archives are readable by their owner only. */
export const protectedFileMode = 0o600;

/**
 * Gzips (and with a key, encrypts) the lines into a new file of mode 0600, measuring what it writes:
 * the SHA-256 and size a manifest records. Shared by backups and retention archives.
 */
export async function writeCompressedFile(
  path: string,
  lines: AsyncIterable<string>,
  encryptionKey: Buffer | undefined,
): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      sizeBytes += chunk.length;
      done(null, chunk);
    },
  });
  const output = createWriteStream(path, { flags: 'wx', flush: true, mode: protectedFileMode });
  const stages = encryptionKey ? [createGzip(), createEncryptStream(encryptionKey)] : [createGzip()];
  await pipeline([Readable.from(lines), ...stages, measure, output]);
  return { sha256: hash.digest('hex'), sizeBytes };
}
