import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from '../../platform/errors.ts';
import { assertPinPolicy, weakPinReason } from './pin-policy.ts';

test('one digit repeated and runs of consecutive digits are weak', () => {
  for (const pin of ['000000', '111111', '999999'])
    assert.equal(weakPinReason(pin), 'must not be one digit repeated', pin);
  for (const pin of ['123456', '012345', '456789', '987654', '654321', '543210'])
    assert.equal(weakPinReason(pin), 'must not be a run of consecutive digits', pin);
});

test('other PINs pass, including near misses of the weak shapes', () => {
  for (const pin of ['482916', '730519', '123457', '111112', '890123', '135790', '121212'])
    assert.equal(weakPinReason(pin), undefined, pin);
});

test('assertPinPolicy throws WEAK_PIN naming the field and never the PIN', () => {
  assert.throws(
    () => assertPinPolicy('222222', 'body.new_pin'),
    (error: unknown) =>
      error instanceof AppError &&
      error.code === 'WEAK_PIN' &&
      error.details?.[0]?.field === 'body.new_pin' &&
      !JSON.stringify(error.details).includes('222222'),
  );
  assert.doesNotThrow(() => assertPinPolicy('482916', 'body.new_pin'));
});
