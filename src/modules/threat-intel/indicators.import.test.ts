import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkRecords } from './indicators.import.ts';

describe('checkRecords', () => {
  test('returns the indicators in unique-key order, so overlapping imports lock rows in one order (issue 10 review: import deadlock)', () => {
    const record = (type: string, value: string, source: string) => ({
      indicator_type: type,
      indicator_value: value,
      threat_type: 'botnet',
      severity: 'high',
      source,
    });
    const forward = checkRecords([
      record('ip', '203.0.113.9', 'feed-b'),
      record('email', 'bad@example.com', 'feed-a'),
      record('ip', '203.0.113.9', 'feed-a'),
      record('ip', '198.51.100.1', 'feed-a'),
    ]);
    const backward = checkRecords([
      record('ip', '198.51.100.1', 'feed-a'),
      record('ip', '203.0.113.9', 'feed-a'),
      record('email', 'bad@example.com', 'feed-a'),
      record('ip', '203.0.113.9', 'feed-b'),
    ]);
    const keys = (result: ReturnType<typeof checkRecords>) =>
      result.indicators.map((item) => `${item.indicator_type} ${item.indicator_value} ${item.source}`);
    assert.deepEqual(keys(forward), [
      'email bad@example.com feed-a',
      'ip 198.51.100.1 feed-a',
      'ip 203.0.113.9 feed-a',
      'ip 203.0.113.9 feed-b',
    ]);
    assert.deepEqual(keys(backward), keys(forward));
    assert.deepEqual(forward.errors, []);
  });
});
