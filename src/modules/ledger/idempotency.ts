import { createHash } from 'node:crypto';
import { AppError, type ErrorCode, type ErrorDetail, errorCatalog } from '../../platform/errors.ts';

/**
 * Idempotency-Key semantics shared by both ways the engine executes (ledger.engine.ts in one
 * transaction, corebank_transfer_group in one statement): the header's bounds, the request hash, and
 * how a stored rejection comes back. The key rows themselves: idempotency.repository.ts.
 */

/** The response a money endpoint gives, as stored for replay. */
export interface MoneyResponse {
  status: number;
  body: Record<string, unknown>;
  /** A transfer's sender count for the velocity rule (migration 0018), when the statement kept one. */
  velocityTransfers?: number | undefined;
}

interface StoredError {
  error: { code: ErrorCode; message: string; details?: ErrorDetail[] };
}

/** An Idempotency-Key header value: 1-255 visible ASCII characters, or absent. */
export function idempotencyKeyFrom(header: unknown): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(header)) {
    throw new AppError('VALIDATION_FAILED', undefined, [
      { field: 'headers.idempotency-key', reason: 'must be 1-255 visible ASCII characters' },
    ]);
  }
  return header;
}

/** JSON with object keys sorted, so two bodies that differ only in key order hash the same. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function requestHash(endpoint: string, body: unknown): string {
  return createHash('sha256')
    .update(`${endpoint}\n${canonicalJson(body)}`)
    .digest('hex');
}

/** A stored rejection comes back as the same typed error; a stored success as its response. */
export function replayOrThrow(response: MoneyResponse): MoneyResponse {
  if (response.status < 400) return response;
  const { error } = response.body as unknown as StoredError;
  throw new AppError(error.code, error.message, error.details);
}

/** A client's mistake (4xx) is stored under its key, so a retry gets the same answer; a reuse is not. */
export function isStorableRejection(error: AppError): boolean {
  return error.status >= 400 && error.status < 500 && error.code !== 'IDEMPOTENCY_KEY_REUSED';
}

export function rejectionResponse(error: AppError): MoneyResponse {
  const body: StoredError = { error: { code: error.code, message: error.message } };
  if (error.details && error.details.length > 0) body.error.details = error.details;
  return { status: errorCatalog[error.code].status, body: body as unknown as Record<string, unknown> };
}

/**
 * Sends a stored or fresh money response. Its status (201, 202) and body were fixed when the request
 * first ran, and the route's response schema still serializes (and so bounds) the body.
 */
export function sendMoneyResponse(
  reply: { code(status: number): { send(body: unknown): unknown } },
  response: MoneyResponse,
): void {
  reply.code(response.status).send(response.body);
}
