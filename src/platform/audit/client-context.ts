import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hashSecretToken } from '../../modules/identity/credential-hashing.ts';
import { AppError } from '../errors.ts';
import { type GeoLocation, locateAddress } from '../geolocation.ts';

/**
 * Where a request comes from beyond its address (issue 10 item 2): the client's device fingerprint
 * and the address's location. The fingerprint is an opaque client value (an app install id, a browser
 * fingerprint): bounded, printable, and kept only as its keyed hash, like every other client secret
 * that is looked up by exact value, so a stolen database does not hand out replayable fingerprints.
 */
export const deviceFingerprintHeader = 'x-device-fingerprint';
export const deviceFingerprintLengthMax = 256;

declare module 'fastify' {
  interface FastifyRequest {
    /** The keyed hash of X-Device-Fingerprint, or undefined when the client sent none. */
    deviceFingerprintHash?: string | undefined;
    /** The client address's location, once looked up (null: it has none). */
    clientLocation?: GeoLocation | null | undefined;
    /** The request matched a threat-intelligence indicator it was let through on (set by the threat check). */
    indicatorHit?: boolean | undefined;
  }
}

/** Printable ASCII, not starting with a space (the OpenAPI document declares the same pattern). */
export const deviceFingerprintPattern = '^[\\x21-\\x7e][\\x20-\\x7e]*$';
const printableAscii = new RegExp(deviceFingerprintPattern);

function fingerprintOf(request: FastifyRequest): string | undefined {
  const value = request.headers[deviceFingerprintHeader];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > deviceFingerprintLengthMax || !printableAscii.test(value)) {
    throw new AppError('VALIDATION_FAILED', undefined, [
      {
        field: 'X-Device-Fingerprint',
        reason: `must be one header of 1 to ${deviceFingerprintLengthMax} printable ASCII characters`,
      },
    ]);
  }
  return value;
}

export function registerClientContext(app: FastifyInstance): void {
  const key = app.config.secretTokenKey;
  app.addHook('onRequest', async (request) => {
    const fingerprint = fingerprintOf(request);
    if (fingerprint !== undefined)
      request.deviceFingerprintHash = hashSecretToken(`device-fingerprint:${fingerprint}`, key);
  });
}

/** The request's location, looked up once (GeoIP is local; GEOIP_ENABLED=false turns it off). */
export function requestLocation(request: FastifyRequest): GeoLocation | null {
  if (request.clientLocation === undefined)
    request.clientLocation = locateAddress(request.ip, request.server.config.security.geoIpEnabled);
  return request.clientLocation;
}

/**
 * The status a request answers with when it succeeds: its route's one 2xx response status (the
 * lowest when it declares several), 200 when it declares none. Audit rows are written before the
 * reply, so this is what their status_code says unless a refusal names its own.
 */
export function routeSuccessStatus(request: FastifyRequest): number {
  const response = request.routeOptions.schema?.response;
  if (response && typeof response === 'object') {
    const statuses = Object.keys(response)
      .map(Number)
      .filter((status) => Number.isInteger(status) && status >= 200 && status < 300);
    if (statuses.length > 0) return Math.min(...statuses);
  }
  return 200;
}
