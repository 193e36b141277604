import { sql } from 'kysely';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { AppError } from '../../platform/errors.ts';
import type { MoneyResponse } from './idempotency.ts';

/** One request's key row: scoped to the tenant and caller, so two users may use the same key. */
export interface KeyClaim {
  tenantId: string;
  callerId: string;
  key: string;
  /** Method and route pattern; the same key on another endpoint is a different request. */
  endpoint: string;
  hash: string;
  ttlHours: number;
}

/**
 * Inserts the key row, or takes over an expired one. Returns undefined when this transaction now
 * owns the key, or the stored response when an earlier request with the same body completed. A racing
 * duplicate blocks on the primary key until the first commits.
 */
export async function claimKey(
  transaction: ScopedTransaction,
  claim: KeyClaim,
): Promise<MoneyResponse | undefined> {
  const claimed = await sql<{ claimed: boolean }>`
    insert into idempotency_keys (tenant_id, user_id, idempotency_key, request_hash, endpoint, expires_at)
    values (${claim.tenantId}, ${claim.callerId}, ${claim.key}, ${claim.hash}, ${claim.endpoint},
            now() + make_interval(hours => ${claim.ttlHours}))
    on conflict (tenant_id, user_id, idempotency_key) do update
      set request_hash = excluded.request_hash, endpoint = excluded.endpoint, response_status = null,
          response_body = null, created_at = now(), expires_at = excluded.expires_at
      where idempotency_keys.expires_at < now()
    returning true as claimed`.execute(transaction);
  if (claimed.rows.length > 0) return undefined;
  const existing = await transaction
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'response_status', 'response_body'])
    .where('tenant_id', '=', claim.tenantId)
    .where('user_id', '=', claim.callerId)
    .where('idempotency_key', '=', claim.key)
    .executeTakeFirstOrThrow();
  if (existing.request_hash !== claim.hash) {
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

export async function storeResponse(
  transaction: ScopedTransaction,
  claim: KeyClaim,
  response: MoneyResponse,
): Promise<void> {
  await transaction
    .updateTable('idempotency_keys')
    .set({ response_status: response.status, response_body: JSON.stringify(response.body) })
    .where('tenant_id', '=', claim.tenantId)
    .where('user_id', '=', claim.callerId)
    .where('idempotency_key', '=', claim.key)
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
