import { sql } from 'kysely';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

export interface StatisticsRow {
  source: 'ledger' | 'operation';
  type: string;
  status: string;
  day: string;
  count: number;
  total_amount: string;
}

/**
 * seed 002 get_statistics: counts and totals per type, status and UTC day over the last `days` days —
 * ledger entries of customers (top-ups, transfers, withdrawals) and operations with their lifecycle.
 * Totals are decimal strings: a sum of many amounts may pass 2^53.
 */
export async function selectStatistics(
  transaction: ScopedTransaction,
  tenantId: string,
  days: number,
): Promise<StatisticsRow[]> {
  const result = await sql<StatisticsRow>`
    select 'ledger' as source, type, status, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as day,
           count(*)::bigint as count, sum(amount)::text as total_amount
    from transactions
    where tenant_id = ${tenantId} and user_id is not null
      and created_at >= now() - make_interval(days => ${days})
    group by type, status, day
    union all
    select 'operation', operation_type, status, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD'),
           count(*)::bigint, sum(amount)::text
    from operations
    where tenant_id = ${tenantId} and created_at >= now() - make_interval(days => ${days})
    group by operation_type, status, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD')
    order by day desc, source, type, status
    limit 5000`.execute(transaction);
  return result.rows;
}

export interface SupplyRow {
  asset: string;
  customer_balance_total: string;
  customer_locked_total: string;
  customer_wallets: number;
  cash_in_balance: string;
  cash_out_balance: string;
  fees_balance: string;
  all_wallets_sum: string;
}

/**
 * seed 002 get_total_supply per asset: what customers hold (issued through cash-in, minus paid out
 * through cash-out), and the system balances that mirror it. all_wallets_sum is zero on a sound ledger.
 */
export async function selectTotalSupply(
  transaction: ScopedTransaction,
  tenantId: string,
): Promise<SupplyRow[]> {
  const result = await sql<SupplyRow>`
    select asset_code as asset,
           coalesce(sum(balance) filter (where kind = 'customer'), 0)::text as customer_balance_total,
           coalesce(sum(locked) filter (where kind = 'customer'), 0)::text as customer_locked_total,
           count(*) filter (where kind = 'customer')::bigint as customer_wallets,
           coalesce(sum(balance) filter (where system_purpose = 'cash_in'), 0)::text as cash_in_balance,
           coalesce(sum(balance) filter (where system_purpose = 'cash_out'), 0)::text as cash_out_balance,
           coalesce(sum(balance) filter (where system_purpose = 'fees'), 0)::text as fees_balance,
           coalesce(sum(balance), 0)::text as all_wallets_sum
    from wallets where tenant_id = ${tenantId}
    group by asset_code order by asset_code`.execute(transaction);
  return result.rows;
}
