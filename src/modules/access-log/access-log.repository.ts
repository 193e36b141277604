import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

/** One api_access_log row as the writer hands it over (seed 004). */
export interface AccessLogRow {
  tenant_id: string;
  created_at: Date;
  user_id: string | null;
  request_id: string;
  method: string;
  endpoint: string;
  /** JSON text of the whitelisted headers. */
  request_headers: string;
  request_body_hash: string | null;
  response_status: number;
  response_time_ms: number;
  bytes_sent: number;
  bytes_received: number;
  ip_address: string | null;
  user_agent: string | null;
  rate_limit_remaining: number | null;
}

/** Writes one tenant's rows in one INSERT, in the caller's transaction scoped to that tenant. */
export async function insertAccessLogRows(
  transaction: ScopedTransaction,
  rows: readonly AccessLogRow[],
): Promise<void> {
  await transaction
    .insertInto('api_access_log')
    .values(rows.map((row) => ({ ...row })))
    .execute();
}
