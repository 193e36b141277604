import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError, type ErrorCode, type ErrorDetail, errorCatalog } from '../../platform/errors.ts';
import type { MoneyServices } from '../ledger/money-services.ts';
import { withMoneyTransaction } from '../ledger/money-transaction.ts';

/** The response a money endpoint gives, as stored for replay. */
export interface MoneyResponse {
  status: number;
  body: Record<string, unknown>;
}

export interface IdempotentCall {
  tenantId: string;
  /** The caller: keys are scoped to them, so two users may use the same key. */
  callerId: string;
  /** Absent: the request is not deduplicated. */
  key: string | undefined;
  /** Method and route pattern; the same key on another endpoint is a different request. */
  endpoint: string;
  body: unknown;
  ttlHours: number;
  attemptsMax: number;
}

interface StoredError {
  error: { code: ErrorCode; message: string; details?: ErrorDetail[] };
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

/**
 * Runs a money operation at most once per (tenant, caller, Idempotency-Key). The key row is claimed
 * inside the operation's own transaction: a racing duplicate blocks on the primary key until the
 * first commits and then replays its stored response; if the first rolls back, the duplicate runs.
 * A rejected request (insufficient funds, a limit) is stored too, so its retry gets the same answer.
 */
export async function runIdempotent(
  db: Kysely<Database>,
  call: IdempotentCall,
  work: (transaction: ScopedTransaction) => Promise<MoneyResponse>,
): Promise<MoneyResponse> {
  const key = call.key;
  const scope = { tenantId: call.tenantId };
  if (key === undefined) return withMoneyTransaction(db, scope, call.attemptsMax, work);
  const hash = requestHash(call.endpoint, call.body);
  let response: MoneyResponse;
  try {
    response = await withMoneyTransaction(db, scope, call.attemptsMax, async (transaction) => {
      const replay = await claimKey(transaction, call, key, hash);
      if (replay) return replay;
      const fresh = await work(transaction);
      await storeResponse(transaction, call, key, fresh);
      return fresh;
    });
  } catch (error) {
    if (!(error instanceof AppError) || !isStorableRejection(error)) throw error;
    const stored = await withMoneyTransaction(db, scope, call.attemptsMax, async (transaction) => {
      const replay = await claimKey(transaction, call, key, hash);
      if (replay) return replay;
      const response = rejectionResponse(error);
      await storeResponse(transaction, call, key, response);
      return response;
    });
    return replayOrThrow(stored);
  }
  return replayOrThrow(response);
}

/**
 * The one way a money endpoint runs: keyed to the calling principal, with the configured key lifetime
 * and retry budget.
 */
export function runMoneyOperation(
  services: MoneyServices,
  principal: Principal,
  key: string | undefined,
  endpoint: string,
  body: unknown,
  work: (transaction: ScopedTransaction) => Promise<MoneyResponse>,
): Promise<MoneyResponse> {
  const call: IdempotentCall = {
    tenantId: principal.tenantId,
    callerId: principal.userId,
    key,
    endpoint,
    body,
    ttlHours: services.money.idempotencyKeyTtlHours,
    attemptsMax: services.money.transactionAttemptsMax,
  };
  return runIdempotent(services.db, call, work);
}

/** A stored rejection comes back as the same typed error; a stored success as its response. */
function replayOrThrow(response: MoneyResponse): MoneyResponse {
  if (response.status < 400) return response;
  const { error } = response.body as unknown as StoredError;
  throw new AppError(error.code, error.message, error.details);
}

function isStorableRejection(error: AppError): boolean {
  return error.status >= 400 && error.status < 500 && error.code !== 'IDEMPOTENCY_KEY_REUSED';
}

function rejectionResponse(error: AppError): MoneyResponse {
  const body: StoredError = { error: { code: error.code, message: error.message } };
  if (error.details && error.details.length > 0) body.error.details = error.details;
  return { status: errorCatalog[error.code].status, body: body as unknown as Record<string, unknown> };
}

/**
 * Inserts the key row, or takes over an expired one. Returns undefined when this transaction now
 * owns the key, or the stored response when an earlier request with the same body completed.
 */
async function claimKey(
  transaction: ScopedTransaction,
  call: IdempotentCall,
  key: string,
  hash: string,
): Promise<MoneyResponse | undefined> {
  const claimed = await sql<{ claimed: boolean }>`
    insert into idempotency_keys (tenant_id, user_id, idempotency_key, request_hash, endpoint, expires_at)
    values (${call.tenantId}, ${call.callerId}, ${key}, ${hash}, ${call.endpoint},
            now() + make_interval(hours => ${call.ttlHours}))
    on conflict (tenant_id, user_id, idempotency_key) do update
      set request_hash = excluded.request_hash, endpoint = excluded.endpoint, response_status = null,
          response_body = null, created_at = now(), expires_at = excluded.expires_at
      where idempotency_keys.expires_at < now()
    returning true as claimed`.execute(transaction);
  if (claimed.rows.length > 0) return undefined;
  const existing = await transaction
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'response_status', 'response_body'])
    .where('tenant_id', '=', call.tenantId)
    .where('user_id', '=', call.callerId)
    .where('idempotency_key', '=', key)
    .executeTakeFirstOrThrow();
  if (existing.request_hash !== hash) {
    throw new AppError('IDEMPOTENCY_KEY_REUSED', undefined, [
      { field: 'headers.idempotency-key', reason: 'was used with a different request body or endpoint' },
    ]);
  }
  // The row is only ever committed together with its response, so a visible row always has one.
  if (existing.response_status === null || existing.response_body === null) {
    throw new Error('idempotency key committed without a response');
  }
  return { status: existing.response_status, body: existing.response_body };
}

async function storeResponse(
  transaction: ScopedTransaction,
  call: IdempotentCall,
  key: string,
  response: MoneyResponse,
): Promise<void> {
  await transaction
    .updateTable('idempotency_keys')
    .set({ response_status: response.status, response_body: JSON.stringify(response.body) })
    .where('tenant_id', '=', call.tenantId)
    .where('user_id', '=', call.callerId)
    .where('idempotency_key', '=', key)
    .execute();
}

/** Deletes expired keys of one tenant; run by the scheduler. */
export async function deleteExpiredIdempotencyKeys(
  transaction: ScopedTransaction,
  tenantId: string,
): Promise<number> {
  const result = await transaction
    .deleteFrom('idempotency_keys')
    .where('tenant_id', '=', tenantId)
    .where('expires_at', '<', sql<Date>`now()`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
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
