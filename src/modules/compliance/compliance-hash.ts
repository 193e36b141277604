import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

/**
 * canonicalize (the RFC 8785 reference implementation for JavaScript) is CommonJS whose typings declare
 * an ES default export, which NodeNext resolution reads as a namespace; required, it is the function.
 */
const canonicalize = createRequire(import.meta.url)('canonicalize') as (input: unknown) => string | undefined;

/**
 * The report hash: SHA-256 (lowercase hex) over the RFC 8785 (JSON Canonicalization Scheme) encoding
 * of report_data — object keys sorted by UTF-16 code unit at every depth, no whitespace, strings and
 * numbers as ECMAScript's JSON.stringify writes them. Anyone holding the downloaded JSON recomputes it
 * with any RFC 8785 implementation (docs/operations.md shows a one-liner), whatever order the keys
 * come back in from jsonb.
 */
export function canonicalReportData(data: unknown): string {
  const text = canonicalize(data);
  if (text === undefined) throw new Error('report data has no JSON encoding');
  return text;
}

export function reportDataHash(data: unknown): string {
  return createHash('sha256').update(canonicalReportData(data), 'utf8').digest('hex');
}
