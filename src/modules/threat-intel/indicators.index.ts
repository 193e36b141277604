import { BlockList, isIP } from 'node:net';
import type { IndicatorType, Severity } from '../../db/schema.ts';
import { emailDomain } from './indicators.values.ts';

/** What the index needs of an active indicator. */
export interface IndexedIndicator {
  id: string;
  indicator_type: IndicatorType;
  indicator_value: string;
  severity: Severity;
  threat_type: string;
  expires_at: Date | null;
}

export interface IndicatorHit {
  id: string;
  type: IndicatorType;
  value: string;
  severity: Severity;
  threatType: string;
}

const severities: readonly Severity[] = ['critical', 'high', 'medium', 'low'];
export const indexAgeMaxMs = 60_000;

/** One tenant's active indicators: a BlockList per severity for addresses, a map for the rest. */
class TenantIndicators {
  private readonly ranges = new Map<Severity, { list: BlockList; hits: IndicatorHit[] }>();
  private readonly exact = new Map<string, IndicatorHit>();
  readonly validUntilMs: number;

  constructor(indicators: readonly IndexedIndicator[], nowMs: number) {
    // At most a minute old even if a change notification was missed (a lost listener connection).
    let validUntil = nowMs + indexAgeMaxMs;
    for (const indicator of indicators) {
      const expires = indicator.expires_at?.getTime();
      if (expires !== undefined && expires <= nowMs) continue;
      if (expires !== undefined) validUntil = Math.min(validUntil, expires);
      const hit: IndicatorHit = {
        id: indicator.id,
        type: indicator.indicator_type,
        value: indicator.indicator_value,
        severity: indicator.severity,
        threatType: indicator.threat_type,
      };
      if (indicator.indicator_type === 'ip') this.addRange(hit);
      else this.addExact(`${indicator.indicator_type}:${indicator.indicator_value}`, hit);
    }
    this.validUntilMs = validUntil;
  }

  private addRange(hit: IndicatorHit): void {
    const entry = this.ranges.get(hit.severity) ?? { list: new BlockList(), hits: [] };
    const [address = '', prefix] = hit.value.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) entry.list.addAddress(address, family);
    else entry.list.addSubnet(address, Number(prefix), family);
    entry.hits.push(hit);
    this.ranges.set(hit.severity, entry);
  }

  private addExact(key: string, hit: IndicatorHit): void {
    const known = this.exact.get(key);
    if (!known || severities.indexOf(hit.severity) < severities.indexOf(known.severity))
      this.exact.set(key, hit);
  }

  /** The most severe indicator matching the address. */
  matchIp(address: string): IndicatorHit | undefined {
    // An IPv4 client of a dual-stack socket arrives as ::ffff:a.b.c.d; IPv4 indicators must match it.
    const ip = /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;
    const family = isIP(ip);
    if (family === 0) return undefined;
    for (const severity of severities) {
      const entry = this.ranges.get(severity);
      if (entry?.list.check(ip, family === 6 ? 'ipv6' : 'ipv4'))
        return entry.hits.find((hit) => covers(hit.value, ip));
    }
    return undefined;
  }

  matchValue(type: IndicatorType, value: string): IndicatorHit | undefined {
    return this.exact.get(`${type}:${value.toLowerCase()}`);
  }
}

/** The hit among a severity's entries that covers the address (BlockList says only that one does). */
function covers(range: string, ip: string): boolean {
  const [address = '', prefix] = range.split('/');
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  const single = new BlockList();
  if (prefix === undefined) single.addAddress(address, family);
  else single.addSubnet(address, Number(prefix), family);
  return single.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
}

export interface IndicatorSubject {
  ip?: string | undefined;
  email?: string | undefined;
}

/**
 * The in-memory indicator index (issue 10 item 5): a lookup costs microseconds. Each tenant's set
 * (its own and the shared feed) is loaded on first use and kept until it is invalidated — by this
 * process after a change, by a change notification from another process, or by the earliest expiry
 * among its indicators.
 */
export class IndicatorIndex {
  private readonly tenants = new Map<string, Promise<TenantIndicators>>();

  constructor(private readonly load: (tenantId: string) => Promise<IndexedIndicator[]>) {}

  invalidate(tenantId?: string): void {
    if (tenantId) this.tenants.delete(tenantId);
    else this.tenants.clear();
  }

  private async tenant(tenantId: string): Promise<TenantIndicators> {
    const now = Date.now();
    const cached = this.tenants.get(tenantId);
    if (cached) {
      const ready = await cached.catch(() => undefined);
      if (ready && ready.validUntilMs > now) return ready;
      if (this.tenants.get(tenantId) === cached) this.tenants.delete(tenantId);
    }
    const loading = this.load(tenantId).then((rows) => new TenantIndicators(rows, Date.now()));
    this.tenants.set(tenantId, loading);
    loading.catch(() => this.tenants.delete(tenantId));
    return loading;
  }

  /** The most severe hit for the subject's address, email or email domain, if any. */
  async match(tenantId: string, subject: IndicatorSubject): Promise<IndicatorHit | undefined> {
    const indicators = await this.tenant(tenantId);
    const hits = [
      subject.ip ? indicators.matchIp(subject.ip) : undefined,
      subject.email ? indicators.matchValue('email', subject.email) : undefined,
      subject.email ? indicators.matchValue('domain', emailDomain(subject.email) ?? '') : undefined,
    ].filter((hit): hit is IndicatorHit => hit !== undefined);
    return hits.sort((a, b) => severities.indexOf(a.severity) - severities.indexOf(b.severity))[0];
  }
}
