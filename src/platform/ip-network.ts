import assert from 'node:assert/strict';
import { isIP } from 'node:net';

/**
 * The network a client address stands for when it is limited or blocked: an IPv4 address is itself
 * (an IPv4 client usually holds one address), an IPv6 one its prefix — a single IPv6 client usually
 * holds a whole /64 and could otherwise take a new address per request. Rate limits (/64) and
 * detection's address blocks (DETECTION_IPV6_BLOCK_PREFIX) count by it.
 */

const ipv6GroupCount = 8;

/** An IPv4 address written as IPv6 (::ffff:10.0.0.1) is the IPv4 address. */
export function unmappedAddress(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return mapped?.[1] ?? ip;
}

/** The eight 16-bit groups of an IPv6 address (a zone `%eth0` dropped, a dotted IPv4 tail read as two). */
function ipv6Groups(ip: string): number[] {
  const address = ip.split('%')[0] ?? '';
  const words = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((word) => {
          if (!word.includes('.')) return [Number.parseInt(word, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = word.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head = '', tail] = address.split('::');
  const left = words(head);
  const right = tail === undefined ? [] : words(tail);
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array(ipv6GroupCount - left.length - right.length).fill(0), ...right];
  assert.equal(groups.length, ipv6GroupCount, 'an IPv6 address has eight groups');
  return groups;
}

/** The groups in RFC 5952 text: lowercase, no leading zeros, the longest run of two or more zeros as `::`. */
function ipv6Text(groups: readonly number[]): string {
  let runStart = -1;
  let runLength = 0;
  for (let index = 0; index < groups.length; ) {
    if (groups[index] !== 0) {
      index += 1;
      continue;
    }
    let end = index;
    while (end < groups.length && groups[end] === 0) end += 1;
    if (end - index > runLength && end - index >= 2) [runStart, runLength] = [index, end - index];
    index = end;
  }
  const text = groups.map((group) => group.toString(16));
  if (runStart < 0) return text.join(':');
  return `${text.slice(0, runStart).join(':')}::${text.slice(runStart + runLength).join(':')}`;
}

/**
 * `2001:db8:1:2:3:4:5:6` at 64 → `2001:db8:1:2::/64`; an IPv4 address (or one mapped into IPv6) →
 * the address; anything that is not an address → itself. The text is canonical, so two addresses of
 * one network give the same string.
 */
export function addressNetwork(ip: string, ipv6PrefixLength: number): string {
  assert.ok(Number.isInteger(ipv6PrefixLength) && ipv6PrefixLength >= 0 && ipv6PrefixLength <= 128);
  const address = unmappedAddress(ip);
  if (isIP(address) !== 6) return address.toLowerCase();
  const masked = ipv6Groups(address).map((group, index) => {
    const bitsKept = Math.min(Math.max(ipv6PrefixLength - index * 16, 0), 16);
    return bitsKept === 0 ? 0 : group & (0xffff << (16 - bitsKept)) & 0xffff;
  });
  return `${ipv6Text(masked)}/${ipv6PrefixLength}`;
}

export function isIpv6Network(network: string): boolean {
  return network.includes(':');
}
