import { parse } from 'csv-parse/sync';
import type { IndicatorType, Severity } from '../../db/schema.ts';
import { isStrictDateTime } from '../../platform/date-formats.ts';
import { isIllFormedText } from '../../platform/text-input.ts';
import type { IndicatorFields } from './indicators.repository.ts';
import { importRowsMax } from './indicators.schemas.ts';
import { canonicalIndicator } from './indicators.values.ts';

export interface RowError {
  row: number;
  field: string;
  reason: string;
}

const types: readonly string[] = ['ip', 'domain', 'email', 'hash'];
const severityNames: readonly string[] = ['low', 'medium', 'high', 'critical'];
const knownFields = new Set([
  'indicator_type',
  'indicator_value',
  'threat_type',
  'severity',
  'confidence',
  'source',
  'description',
  'expires_at',
]);

/** The rows of a CSV import (header row first), as records of text; a malformed file is one error. */
export function csvRecords(text: string): { records: Record<string, unknown>[] } | { error: string } {
  try {
    const records = parse(text, {
      columns: (header: string[]) => header.map((name) => name.trim().toLowerCase()),
      skip_empty_lines: true,
      trim: true,
      to: importRowsMax + 1,
    }) as Record<string, unknown>[];
    return { records };
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : 'unreadable';
    return { error: `the CSV could not be read: ${message}`.slice(0, 300) };
  }
}

function text(record: Record<string, unknown>, field: string, maxLength: number, required: boolean) {
  const value = record[field];
  if (value === undefined || value === null || value === '') {
    return required ? { reason: 'is required' } : { value: undefined };
  }
  if (typeof value !== 'string') return { reason: 'must be text' };
  if (value.length > maxLength) return { reason: `must be at most ${maxLength} characters` };
  if (isIllFormedText(value)) return { reason: 'must not contain NUL or unpaired surrogates' };
  return { value };
}

/** One record checked and made canonical, or the first reason it is not an indicator. */
export function indicatorFromRecord(
  record: Record<string, unknown>,
): IndicatorFields | Omit<RowError, 'row'> {
  const unknown = Object.keys(record).find((field) => !knownFields.has(field));
  if (unknown) return { field: unknown.slice(0, 50), reason: 'is not a field of an indicator' };
  const fields: Record<string, { value?: string | undefined; reason?: string }> = {
    indicator_type: text(record, 'indicator_type', 10, true),
    indicator_value: text(record, 'indicator_value', 500, true),
    threat_type: text(record, 'threat_type', 100, true),
    severity: text(record, 'severity', 10, true),
    source: text(record, 'source', 100, false),
    description: text(record, 'description', 2000, false),
    expires_at: text(record, 'expires_at', 35, false),
  };
  for (const [field, checked] of Object.entries(fields))
    if (checked.reason) return { field, reason: checked.reason };
  const type = fields.indicator_type?.value ?? '';
  if (!types.includes(type)) return { field: 'indicator_type', reason: 'must be ip, domain, email or hash' };
  const severity = fields.severity?.value ?? '';
  if (!severityNames.includes(severity))
    return { field: 'severity', reason: 'must be low, medium, high or critical' };
  const canonical = canonicalIndicator(type as IndicatorType, fields.indicator_value?.value ?? '');
  if ('reason' in canonical) return { field: 'indicator_value', reason: canonical.reason };
  const confidence =
    record.confidence === undefined || record.confidence === '' ? 50 : Number(record.confidence);
  if (!Number.isInteger(confidence) || confidence < 0 || confidence > 100) {
    return { field: 'confidence', reason: 'must be an integer from 0 to 100' };
  }
  const expires = fields.expires_at?.value;
  if (expires !== undefined && !isStrictDateTime(expires))
    return { field: 'expires_at', reason: 'must be an RFC 3339 instant' };
  return {
    indicator_type: type as IndicatorType,
    indicator_value: canonical.value,
    threat_type: fields.threat_type?.value ?? '',
    severity: severity as Severity,
    confidence,
    source: fields.source?.value ?? 'import',
    description: fields.description?.value ?? null,
    expires_at: expires ?? null,
  };
}

const identityOf = (indicator: IndicatorFields) =>
  `${indicator.indicator_type}\u0000${indicator.indicator_value}\u0000${indicator.source}`;

/**
 * The indicators in the order of their unique key (type, value, source). Two imports that overlap
 * upsert — and so lock — the rows they share in the same order, so one waits for the other instead of
 * each holding a row the other needs (a deadlock, issue 10 review). Code-unit order is enough: any
 * one total order shared by every import is.
 */
export function inKeyOrder(indicators: readonly IndicatorFields[]): IndicatorFields[] {
  return indicators
    .map((indicator) => ({ indicator, key: identityOf(indicator) }))
    .sort((left, right) => (left.key < right.key ? -1 : left.key > right.key ? 1 : 0))
    .map(({ indicator }) => indicator);
}

/**
 * Checks every record; a later record with the same type, value and source as an earlier one is an
 * error. The indicators come back in key order (inKeyOrder), ready to upsert.
 */
export function checkRecords(records: readonly Record<string, unknown>[]): {
  indicators: IndicatorFields[];
  errors: RowError[];
} {
  const indicators: IndicatorFields[] = [];
  const errors: RowError[] = [];
  const seen = new Map<string, number>();
  records.forEach((record, index) => {
    const row = index + 1;
    const checked = indicatorFromRecord(record);
    if ('reason' in checked) {
      errors.push({ row, ...checked });
      return;
    }
    const identity = identityOf(checked);
    const earlier = seen.get(identity);
    if (earlier !== undefined) {
      errors.push({ row, field: 'indicator_value', reason: `repeats row ${earlier}` });
      return;
    }
    seen.set(identity, row);
    indicators.push(checked);
  });
  return { indicators: inKeyOrder(indicators), errors };
}
