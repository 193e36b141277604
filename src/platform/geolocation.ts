import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type { Lookup } from 'geoip-lite';

/**
 * Where an address is, from the GeoLite data shipped in the `geoip-lite` package: a local lookup,
 * never a network call (issue 10 item 2). Private, loopback, link-local and other non-public
 * addresses have no location.
 */
export interface GeoLocation {
  /** ISO 3166-1 alpha-2. */
  country: string;
  region: string | null;
  city: string | null;
  timezone: string | null;
  latitude: number | null;
  longitude: number | null;
  /** The accuracy radius around the coordinates, in kilometres. */
  accuracyRadiusKm: number | null;
}

type LookupFunction = (address: string) => Lookup | null;

let lookupFunction: LookupFunction | undefined;

/**
 * The package reads its whole database (about 150 MB in memory, a third of a second) when it is first
 * required, so it is loaded at the first lookup of a public address, once per process: start-up and
 * the tests that never see a public address stay fast and small (GEOIP_ENABLED=false never loads it).
 */
function loadLookup(): LookupFunction {
  if (lookupFunction) return lookupFunction;
  const require = createRequire(import.meta.url);
  const geoip: { lookup: LookupFunction } = require('geoip-lite');
  lookupFunction = (address) => geoip.lookup(address);
  return lookupFunction;
}

const privateIpv4 = [
  /^0\./,
  /^10\./,
  /^127\./,
  /^169\.254\./,
  /^172\.(1[6-9]|2\d|3[01])\./,
  /^192\.168\./,
  /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./,
  /^2(2[4-9]|[3-5]\d)\./,
];

/** Addresses that name no place: private ranges, loopback, link-local, multicast, unspecified. */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  const lower = address.toLowerCase();
  const mapped = lower.startsWith('::ffff:') ? lower.slice(7) : undefined;
  if (mapped && isIP(mapped) === 4) return isNonPublicAddress(mapped);
  if (family === 4) return privateIpv4.some((pattern) => pattern.test(address));
  return (
    lower === '::' || lower === '::1' || /^f[cd]/.test(lower) || /^fe[89ab]/.test(lower) || /^ff/.test(lower)
  );
}

/** The location of a public address, or null (non-public, unknown to the database, or lookups off). */
export function locateAddress(address: string | undefined, enabled = true): GeoLocation | null {
  if (!enabled || address === undefined || isNonPublicAddress(address)) return null;
  const found = loadLookup()(address);
  if (!found?.country) return null;
  const [latitude, longitude] = found.ll;
  return {
    country: found.country,
    region: found.region || null,
    city: found.city || null,
    timezone: found.timezone || null,
    latitude: Number.isFinite(latitude) ? latitude : null,
    longitude: Number.isFinite(longitude) ? longitude : null,
    accuracyRadiusKm: Number.isFinite(found.area) ? found.area : null,
  };
}

/** The stored form (audit_logs.location, security_events.geolocation): snake_case. */
export function locationObject(
  location: GeoLocation | null | undefined,
): Record<string, unknown> | undefined {
  if (!location) return undefined;
  return {
    country: location.country,
    region: location.region,
    city: location.city,
    timezone: location.timezone,
    latitude: location.latitude,
    longitude: location.longitude,
    accuracy_radius_km: location.accuracyRadiusKm,
  };
}

/** locationObject as jsonb text (a parameter node-postgres sends as it is), or null. */
export function locationJson(location: GeoLocation | null | undefined): string | null {
  const stored = locationObject(location);
  return stored ? JSON.stringify(stored) : null;
}
