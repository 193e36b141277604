import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Config } from '../../config/config.ts';
import { sessionPinHash } from './banking-login.service.ts';

test('invariant: a registration PIN hash with no PIN pepper configured crashes loudly (AssertionError)', () => {
  const config = { pinPeppers: [] } as unknown as Config;
  assert.throws(() => sessionPinHash(config, undefined, '123456'), assert.AssertionError);
});
