import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { requestActor } from '../../platform/request-actor.ts';
import type { TenantEntry } from '../../platform/tenant-batches.ts';
import { printableText } from '../../platform/text-input.ts';
import type { AccessLogRow } from './access-log.repository.ts';

/** Headers kept in `request_headers`: never Authorization, Cookie or anything else that carries a secret. */
export const loggedHeaders = [
  'accept',
  'accept-language',
  'content-type',
  'content-length',
  'origin',
  'referer',
  'x-forwarded-for',
  'x-tenant-id',
  'x-device-id',
  'x-device-fingerprint',
  'idempotency-key',
] as const;

const headerValueLengthMax = 256;
const userAgentLengthMax = 500;
const endpointLengthMax = 255;

/**
 * Bodies whose field names suggest a credential are never hashed: the hash of a body holding a 6-digit
 * PIN and a known phone number is a PIN oracle offline.
 */
const secretFieldPattern = /pin|password|passcode|otp|code|token|secret|recovery/i;

function holdsSecretField(value: unknown, depth = 0): boolean {
  if (depth > 8 || value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some((item) => holdsSecretField(item, depth + 1));
  return Object.entries(value).some(
    ([key, inner]) => secretFieldPattern.test(key) || holdsSecretField(inner, depth + 1),
  );
}

/** SHA-256 of the parsed JSON body, or null for no body or one that may carry a credential. */
export function bodyHash(body: unknown): string | null {
  if (body === undefined || body === null || holdsSecretField(body)) return null;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return createHash('sha256').update(text).digest('hex');
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(not a URL)';
  }
}

function headerSubset(request: FastifyRequest): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of loggedHeaders) {
    const value = request.headers[name];
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    // A Referer's path and query may carry a reset or verification token: only its origin is kept.
    kept[name] = clean(name === 'referer' ? originOf(text) : text, headerValueLengthMax);
  }
  return kept;
}

/**
 * Text as PostgreSQL can store it, within its column's bound: a NUL or an unpaired surrogate (which a
 * refused request may well carry) would fail the whole batch's INSERT, so it becomes U+FFFD.
 */
function clean(text: string, lengthMax: number): string {
  return printableText(text.slice(0, lengthMax));
}

function integerHeader(value: unknown): number | null {
  const number = typeof value === 'string' ? Number(value) : typeof value === 'number' ? value : Number.NaN;
  return Number.isSafeInteger(number) && number >= 0 && number <= 2_147_483_647 ? number : null;
}

/** The row of one answered request, with the tenant it belongs to still to be decided by the writer. */
export type AccessLogEntry = TenantEntry<Omit<AccessLogRow, 'tenant_id'>>;

export function accessLogEntry(request: FastifyRequest, reply: FastifyReply): AccessLogEntry {
  const status = reply.statusCode >= 100 && reply.statusCode <= 599 ? reply.statusCode : 500;
  const withoutClient = request.routeOptions.config.accessLogWithoutClient === true && status < 300;
  const userAgent = withoutClient ? undefined : request.headers['user-agent'];
  return {
    tenantId: requestActor(request).tenantId,
    row: {
      created_at: new Date(),
      user_id: requestActor(request).userId,
      request_id: clean(request.id, 64),
      method: clean(request.method, 10),
      endpoint: clean(request.routeOptions.url ?? request.url.split('?')[0] ?? '/', endpointLengthMax),
      request_headers: JSON.stringify(withoutClient ? {} : headerSubset(request)),
      request_body_hash: bodyHash(request.body),
      response_status: status,
      response_time_ms: Math.max(0, Math.round(reply.elapsedTime)),
      bytes_sent: integerHeader(reply.getHeader('content-length')) ?? 0,
      bytes_received: integerHeader(request.headers['content-length']) ?? 0,
      ip_address: !withoutClient && isIP(request.ip) ? request.ip : null,
      user_agent: typeof userAgent === 'string' ? clean(userAgent, userAgentLengthMax) : null,
      rate_limit_remaining:
        integerHeader(reply.getHeader('ratelimit-remaining')) ??
        integerHeader(reply.getHeader('x-ratelimit-remaining')),
    },
  };
}
