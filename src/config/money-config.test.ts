import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigurationError } from './config-readers.ts';
import { readMoneyConfig } from './money-config.ts';

test('STAFF_TOPUP_APPROVAL_THRESHOLDS: per-asset amounts, defaults for the seeded assets, bad lists named', () => {
  const defaults = readMoneyConfig({}, 'production').staffTopupApprovalThresholds;
  assert.deepEqual([...defaults.keys()].sort(), ['BTC', 'IDR', 'USD', 'iSTSi']);
  assert.equal(defaults.get('IDR'), 1_000_000_000);
  const custom = readMoneyConfig({ STAFF_TOPUP_APPROVAL_THRESHOLDS: 'IDR:5000, USD:0' }, 'test');
  assert.deepEqual(
    [...custom.staffTopupApprovalThresholds],
    [
      ['IDR', 5000],
      ['USD', 0],
    ],
  );
  for (const bad of ['IDR', 'IDR:-1', 'IDR:1.5', 'IDR:1,IDR:2', 'IDR:99999999999999999', 'I:1']) {
    assert.throws(
      () => readMoneyConfig({ STAFF_TOPUP_APPROVAL_THRESHOLDS: bad }, 'test'),
      (error: unknown) =>
        error instanceof ConfigurationError && error.variable === 'STAFF_TOPUP_APPROVAL_THRESHOLDS',
      bad,
    );
  }
});
