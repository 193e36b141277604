import assert from 'node:assert/strict';
import { sql } from 'kysely';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

/**
 * The alerting queries of seeds 000 and 001, for one tenant, at one instant. Each reads an index on
 * (tenant, …, created_at) over a recent window; all run in the caller's one read transaction.
 */
export async function readSummaryCounts(transaction: ScopedTransaction, tenantId: string) {
  const result = await sql<{
    server_errors_last_hour: number;
    failed_logins_last_15_minutes: number;
    active_users_last_24_hours: number;
    active_sessions: number;
  }>`
    select
      (select count(*)::int from api_access_log
        where tenant_id = ${tenantId} and created_at > now() - interval '1 hour' and response_status >= 500)
        as server_errors_last_hour,
      (select count(*)::int from login_audits
        where tenant_id = ${tenantId} and created_at > now() - interval '15 minutes' and status = 'failed')
        as failed_logins_last_15_minutes,
      (select count(*)::int from users
        where tenant_id = ${tenantId} and last_login_at > now() - interval '24 hours')
        as active_users_last_24_hours,
      (select count(*)::int from device_sessions
        where tenant_id = ${tenantId} and is_active and expires_at > now()) as active_sessions`.execute(
    transaction,
  );
  const [row] = result.rows;
  assert.ok(row, 'a summary query returns one row');
  return row;
}

/** Seed 000's monitoring query: failed logins per address in the last hour, most first. */
export async function failedLoginsByAddress(transaction: ScopedTransaction, tenantId: string, limit: number) {
  const result = await sql<{ ip_address: string; failures: number }>`
    select host(ip_address) as ip_address, count(*)::int as failures
    from login_audits
    where tenant_id = ${tenantId} and created_at > now() - interval '1 hour' and status = 'failed'
      and ip_address is not null
    group by ip_address order by failures desc, ip_address limit ${limit}`.execute(transaction);
  return result.rows;
}

/** Addresses with the most security events of high or critical severity in the last 24 hours. */
export async function topOffendingAddresses(transaction: ScopedTransaction, tenantId: string, limit: number) {
  const result = await sql<{ ip_address: string; events: number }>`
    select host(ip_address) as ip_address, count(*)::int as events
    from security_events
    where tenant_id = ${tenantId} and created_at > now() - interval '24 hours' and ip_address is not null
      and severity in ('medium', 'high', 'critical')
    group by ip_address order by events desc, ip_address limit ${limit}`.execute(transaction);
  return result.rows;
}

export async function openIncidentsBySeverity(transaction: ScopedTransaction, tenantId: string) {
  const result = await sql<{ severity: string; incidents: number }>`
    select severity, count(*)::int as incidents from security_incidents
    where tenant_id = ${tenantId} and status in ('open', 'investigating')
    group by severity order by severity`.execute(transaction);
  return result.rows;
}

/** Outgoing entries of the last 24 hours at or above the amount, largest first. */
export async function largeOutgoingEntries(
  transaction: ScopedTransaction,
  tenantId: string,
  amountMin: number,
  limit: number,
) {
  const result = await sql<{
    id: string;
    user_id: string | null;
    asset: string;
    amount: number;
    type: string;
    created_at: string;
  }>`
    select t.id, t.user_id, t.asset_code as asset, t.amount, t.type,
           to_char(t.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at
    from transactions t
    where t.tenant_id = ${tenantId} and t.created_at > now() - interval '24 hours'
      and t.type in ('transfer_out', 'withdraw') and t.amount >= ${amountMin}
    order by t.amount desc, t.id limit ${limit}`.execute(transaction);
  return result.rows;
}
