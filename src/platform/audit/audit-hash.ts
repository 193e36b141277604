import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The previous hash of the first row of every tenant's chain. */
export const genesisHash = '0'.repeat(64);

/**
 * The SQL expression that renders an audit row canonically: its jsonb form without the seal columns.
 * jsonb orders keys deterministically and, with TimeZone set to UTC in the same transaction, renders
 * timestamps with their full microseconds, identically on PostgreSQL 15 and the embedded engine.
 */
export const canonicalRowSql = `(to_jsonb(a) - array['chain_sequence', 'previous_hash', 'row_hash',
  'signature', 'signing_key_id', 'sealed_at'])::text`;

export function computeRowHash(previousHash: string, chainSequence: number, canonicalRow: string): string {
  return createHash('sha256').update(`${previousHash}\n${chainSequence}\n${canonicalRow}`).digest('hex');
}

export function signRowHash(key: Buffer, rowHash: string): string {
  return createHmac('sha256', key).update(rowHash).digest('hex');
}

export function signatureMatches(key: Buffer, rowHash: string, signature: string): boolean {
  const expected = Buffer.from(signRowHash(key, rowHash), 'hex');
  const actual = Buffer.from(signature, 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
