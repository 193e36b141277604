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

/** Two hex MACs equal, compared in constant time. */
function macEquals(expectedHex: string, actualHex: string): boolean {
  const expected = Buffer.from(expectedHex, 'hex');
  const actual = Buffer.from(actualHex, 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

export function signatureMatches(key: Buffer, rowHash: string, signature: string): boolean {
  return macEquals(signRowHash(key, rowHash), signature);
}

/**
 * The attestation of an erased audit row (migration 0021, docs/security.md): binds the row's original
 * row_hash to its canonical form after its personal fields were erased, under the audit key. A row
 * whose content no longer hashes to its row_hash verifies only with an attestation of its current
 * content, so erasure passes and any other change (or a later change of an erased row) does not.
 */
export function attestErasure(key: Buffer, rowHash: string, canonicalRow: string): string {
  return createHmac('sha256', key).update(`erasure\n${rowHash}\n${canonicalRow}`).digest('hex');
}

export function erasureAttestationMatches(
  key: Buffer,
  rowHash: string,
  canonicalRow: string,
  attestation: string,
): boolean {
  return macEquals(attestErasure(key, rowHash, canonicalRow), attestation);
}
