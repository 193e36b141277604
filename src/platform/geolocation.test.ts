import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isNonPublicAddress, locateAddress } from './geolocation.ts';

test('private, loopback and link-local addresses have no location and load nothing', () => {
  for (const address of [
    '127.0.0.1',
    '10.1.2.3',
    '172.20.0.1',
    '192.168.1.1',
    '169.254.1.1',
    '::1',
    'fd00::1',
    'fe80::1',
    '::ffff:10.0.0.1',
    'not an address',
  ]) {
    assert.equal(isNonPublicAddress(address), true, address);
    assert.equal(locateAddress(address), null, address);
  }
});

test('a public address is located from the local database; lookups off locate nothing', () => {
  assert.equal(isNonPublicAddress('81.2.69.160'), false);
  const location = locateAddress('81.2.69.160');
  assert.equal(location?.country, 'GB');
  assert.equal(locateAddress('81.2.69.160', false), null);
});
