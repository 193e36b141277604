import { type Kysely, sql } from 'kysely';
import type { Database } from '../../db/schema.ts';

/**
 * The queries of `corebank ledger check` (ledger-check.ts): each finds the first offender of one
 * invariant in one tenant, in the caller's repeatable-read snapshot, or nothing.
 */
type Reader = Kysely<Database>;

export async function listTenantIdsInOrder(db: Kysely<Database>) {
  return db.selectFrom('tenants').select('id').orderBy('id').execute();
}

export async function countWalletsAndEntries(
  transaction: Reader,
  tenantId: string,
): Promise<{ wallets: number; entries: number } | undefined> {
  const counts = await sql<{ wallets: number; entries: number }>`
    select (select count(*) from wallets where tenant_id = ${tenantId})::bigint as wallets,
           (select count(*) from transactions where tenant_id = ${tenantId})::bigint as entries`.execute(
    transaction,
  );
  return counts.rows[0];
}

export interface WalletOffender {
  id: string;
  asset_code: string;
  /** Balances as decimal text: a system wallet's may pass 2^53. */
  balance: string;
  entry_count: number;
  entries: number;
  sequence_max: number;
  entry_sum: string;
  last_balance_after: string | null;
}

/** A wallet whose balance, entry count or entry numbering disagrees with its entries. */
export async function findWalletOffenderRow(
  transaction: Reader,
  tenantId: string,
): Promise<WalletOffender | undefined> {
  const rows = await sql<WalletOffender>`
    select w.id, w.asset_code, w.balance::text as balance, w.entry_count,
           coalesce(e.entries, 0)::bigint as entries, coalesce(e.sequence_max, 0)::bigint as sequence_max,
           coalesce(e.entry_sum, 0)::text as entry_sum, e.last_balance_after::text as last_balance_after
    from wallets w
    left join (
      select wallet_id, count(*) as entries, max(entry_sequence) as sequence_max,
             sum(balance_after - balance_before) as entry_sum,
             (array_agg(balance_after order by entry_sequence desc))[1] as last_balance_after
      from transactions where tenant_id = ${tenantId} group by wallet_id
    ) e on e.wallet_id = w.id
    where w.tenant_id = ${tenantId}
      and (w.balance <> coalesce(e.entry_sum, 0)
        or w.entry_count <> coalesce(e.entries, 0)
        or coalesce(e.sequence_max, 0) <> coalesce(e.entries, 0)
        or (e.entries > 0 and e.last_balance_after <> w.balance))
    order by w.id limit 1`.execute(transaction);
  return rows.rows[0];
}

/** An entry whose balance_before does not continue the previous entry's balance_after. */
export async function findChainBreakRow(transaction: Reader, tenantId: string) {
  const rows = await sql<{
    wallet_id: string;
    entry_sequence: number;
    balance_before: string;
    previous: string;
  }>`
    select wallet_id, entry_sequence, balance_before::text as balance_before, previous::text as previous from (
      select wallet_id, entry_sequence, balance_before,
             coalesce(lag(balance_after) over (partition by wallet_id order by entry_sequence), 0) as previous
      from transactions where tenant_id = ${tenantId}
    ) chain where balance_before <> previous
    order by wallet_id, entry_sequence limit 1`.execute(transaction);
  return rows.rows[0];
}

/** A movement whose entries do not sum to zero within one asset. */
export async function findUnbalancedMovementRow(transaction: Reader, tenantId: string) {
  const rows = await sql<{ movement_id: string; total: string; assets: number }>`
    select movement_id, sum(balance_after - balance_before)::text as total, count(distinct asset_code)::bigint as assets
    from transactions where tenant_id = ${tenantId}
    group by movement_id
    having sum(balance_after - balance_before) <> 0 or count(distinct asset_code) <> 1
    order by movement_id limit 1`.execute(transaction);
  return rows.rows[0];
}

/** An asset whose wallet balances do not sum to zero. */
export async function findUnbalancedAssetRow(transaction: Reader, tenantId: string) {
  const rows = await sql<{ asset_code: string; total: string }>`
    select asset_code, sum(balance)::text as total from wallets where tenant_id = ${tenantId}
    group by asset_code having sum(balance) <> 0 order by asset_code limit 1`.execute(transaction);
  return rows.rows[0];
}

/** A wallet whose locked amount differs from the sum of its active holds. */
export async function findLockedMismatchRow(transaction: Reader, tenantId: string) {
  const rows = await sql<{ id: string; locked: string; held: string }>`
    select w.id, w.locked::text as locked, coalesce(h.held, 0)::text as held from wallets w
    left join (
      select wallet_id, sum(amount) as held from balance_holds
      where tenant_id = ${tenantId} and status = 'active' group by wallet_id
    ) h on h.wallet_id = w.id
    where w.tenant_id = ${tenantId} and w.locked <> coalesce(h.held, 0)
    order by w.id limit 1`.execute(transaction);
  return rows.rows[0];
}
