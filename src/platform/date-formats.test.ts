import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStrictDate, isStrictDateTime } from './date-formats.ts';

// Each of these reached a `::timestamptz` cast through ajv-formats and answered 500 (issue 7 item 11).
const refused = [
  '0000-01-01T00:00:00Z',
  '2026-99-01T00:00:00Z',
  '2026-00-10T00:00:00Z',
  '2026-02-30T00:00:00Z',
  '2025-02-29T00:00:00Z',
  '1900-02-29T00:00:00Z',
  '10000-01-01T00:00:00Z',
  '2026-01-01T00:00:00+23:59',
  '2026-01-01T00:00:00+15:00',
  '2026-01-01T00:00:00+14:60',
  '2026-12-31T23:59:60Z',
  '2026-01-01T24:00:00Z',
  '2026-01-01T00:60:00Z',
  '2026-01-01 00:00:00Z',
  '2026-01-01t00:00:00z',
  '2026-01-01T00:00:00',
  '2026-01-01T00:00:00.1234567890Z',
  '9999-12-31T23:59:59-00:01',
  '0001-01-01T00:00:00+00:01',
  '-001-01-01T00:00:00Z',
  '+2026-01-01T00:00:00Z',
  '2026-1-01T00:00:00Z',
  '',
];

const accepted = [
  '2026-11-22T10:00:00.000Z',
  '2024-02-29T00:00:00Z',
  '2000-02-29T23:59:59.999999Z',
  '0001-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  '2026-01-01T00:00:00+14:00',
  '2026-01-01T00:00:00-12:00',
  '2026-01-01T00:00:00.123456789+05:30',
];

test('regression (issue 7 item 11): date-time refuses impossible calendar dates, years outside 0001-9999 and offsets PostgreSQL rejects', () => {
  for (const text of refused) assert.equal(isStrictDateTime(text), false, text);
  for (const text of accepted) assert.equal(isStrictDateTime(text), true, text);
});

test('every accepted date-time is an instant JavaScript represents exactly', () => {
  for (const text of accepted) assert.ok(Number.isFinite(new Date(text).getTime()), text);
});

test('date accepts real calendar days in years 0001-9999 only', () => {
  for (const text of ['2026-01-31', '2024-02-29', '0001-01-01', '9999-12-31'])
    assert.equal(isStrictDate(text), true, text);
  for (const text of ['0000-01-01', '2026-02-29', '2026-13-01', '2026-04-31', '10000-01-01', '2026-1-1'])
    assert.equal(isStrictDate(text), false, text);
});
