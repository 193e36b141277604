import { isIP } from 'node:net';
import type { IndicatorType } from '../../db/schema.ts';

/**
 * The canonical form of an indicator value, or a reason it is not one. Stored and matched in this
 * form: IP addresses and CIDR ranges as Node prints them, domains and emails lower-cased, hashes as
 * lower-case hex of an MD5, SHA-1, SHA-256 or SHA-512.
 */
export function canonicalIndicator(type: IndicatorType, raw: string): { value: string } | { reason: string } {
  const text = raw.trim();
  if (type === 'ip') return canonicalIp(text);
  if (type === 'domain') {
    const domain = text.toLowerCase().replace(/\.$/, '');
    const label = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
    const labels = domain.split('.');
    return domain.length <= 253 && labels.length >= 2 && labels.every((part) => label.test(part))
      ? { value: domain }
      : { reason: 'must be a domain name such as example.com' };
  }
  if (type === 'email') {
    const email = text.toLowerCase();
    return email.length <= 254 && /^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$/.test(email)
      ? { value: email }
      : { reason: 'must be an email address' };
  }
  const hash = text.toLowerCase();
  return /^([0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128})$/.test(hash)
    ? { value: hash }
    : { reason: 'must be the hex of an MD5, SHA-1, SHA-256 or SHA-512 hash' };
}

function canonicalIp(text: string): { value: string } | { reason: string } {
  const [address = '', prefix, ...rest] = text.split('/');
  const family = isIP(address);
  const bits = family === 4 ? 32 : 128;
  if (family === 0 || rest.length > 0) return { reason: 'must be an IPv4 or IPv6 address or CIDR range' };
  if (prefix === undefined) return { value: address.toLowerCase() };
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bits) {
    return { reason: `the prefix must be 0-${bits} for an IPv${family} range` };
  }
  return { value: `${address.toLowerCase()}/${Number(prefix)}` };
}

/** The domain of an email address, for matching a domain indicator. */
export function emailDomain(email: string): string | undefined {
  const at = email.lastIndexOf('@');
  return at > 0 ? email.slice(at + 1).toLowerCase() : undefined;
}
