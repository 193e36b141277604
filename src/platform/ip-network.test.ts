import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressNetwork } from './ip-network.ts';

test('an IPv4 address is its own network at any prefix length, mapped into IPv6 or not', () => {
  assert.equal(addressNetwork('10.1.2.3', 64), '10.1.2.3');
  assert.equal(addressNetwork('10.1.2.3', 48), '10.1.2.3');
  assert.equal(addressNetwork('::ffff:10.1.2.3', 64), '10.1.2.3');
  assert.equal(addressNetwork('::FFFF:10.1.2.3', 128), '10.1.2.3');
});

test('an IPv6 address gives its network at the prefix length, in one canonical text', () => {
  assert.equal(addressNetwork('2001:db8:1:2:3:4:5:6', 64), '2001:db8:1:2::/64');
  assert.equal(addressNetwork('2001:0DB8:0001:0002:ffff::1', 64), '2001:db8:1:2::/64');
  assert.equal(addressNetwork('2001:db8::1', 64), '2001:db8::/64');
  assert.equal(addressNetwork('2001:db8:0:0:1::', 64), '2001:db8::/64');
  assert.equal(addressNetwork('2001:db8:1:2:3:4:5:6', 48), '2001:db8:1::/48');
  assert.equal(addressNetwork('2001:db8:1:2:3:4:5:6', 128), '2001:db8:1:2:3:4:5:6/128');
  assert.equal(addressNetwork('2001:db8:0:0:1:0:0:1', 128), '2001:db8::1:0:0:1/128');
  assert.equal(addressNetwork('::1', 128), '::1/128');
  assert.equal(addressNetwork('fe80::1%eth0', 64), 'fe80::/64');
  assert.equal(addressNetwork('64:ff9b::10.1.2.3', 128), '64:ff9b::a01:203/128');
});

test('a prefix length inside a group keeps only its leading bits', () => {
  assert.equal(addressNetwork('2001:db8:1:2fff::1', 52), '2001:db8:1:2000::/52');
  assert.equal(addressNetwork('2001:db8:1:2fff::1', 56), '2001:db8:1:2f00::/56');
  assert.equal(addressNetwork('2001:db8:1:20ff::1', 57), '2001:db8:1:2080::/57');
  assert.equal(addressNetwork('2001:db8:1:20ff::1', 57), addressNetwork('2001:db8:1:20ff:ffff::9', 57));
  assert.notEqual(addressNetwork('2001:db8:1:2::1', 64), addressNetwork('2001:db8:1:3::1', 64));
});

test('anything that is not an address is returned as it is (lowercased)', () => {
  assert.equal(addressNetwork('unknown', 64), 'unknown');
  assert.throws(() => addressNetwork('2001:db8::1', 129));
});
