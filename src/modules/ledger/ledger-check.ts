import { type Kysely, sql } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { applicationRole, applyScope } from '../../db/tenant-transaction.ts';

export interface LedgerProblem {
  tenantId: string;
  kind: 'wallet_balance' | 'entry_chain' | 'asset_sum' | 'movement_sum' | 'locked_holds';
  /** The wallet, asset or movement at fault. */
  subject: string;
  message: string;
}

export interface LedgerCheckResult {
  tenants: number;
  wallets: number;
  entries: number;
  problem: LedgerProblem | undefined;
}

interface WalletOffender {
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

/**
 * Proves the ledger's invariants tenant by tenant, each in one repeatable-read snapshot so concurrent
 * traffic cannot produce a false alarm: every wallet's balance equals its last entry's balance_after
 * and the sum of its signed entries; its entries are numbered 1…n without a gap and each starts where
 * the previous one ended; every movement and every asset sums to zero; locked equals the active holds.
 * Returns the first offender found, in that order.
 */
export async function checkLedger(db: Kysely<Database>): Promise<LedgerCheckResult> {
  const tenants = await db.selectFrom('tenants').select('id').orderBy('id').execute();
  const result: LedgerCheckResult = { tenants: tenants.length, wallets: 0, entries: 0, problem: undefined };
  for (const { id: tenantId } of tenants) {
    const problem = await db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (transaction) => {
        await applyScope(transaction, { tenantId }, applicationRole);
        const counts = await sql<{ wallets: number; entries: number }>`
          select (select count(*) from wallets where tenant_id = ${tenantId})::bigint as wallets,
                 (select count(*) from transactions where tenant_id = ${tenantId})::bigint as entries`.execute(
          transaction,
        );
        result.wallets += counts.rows[0]?.wallets ?? 0;
        result.entries += counts.rows[0]?.entries ?? 0;
        return (
          (await findWalletOffender(transaction, tenantId)) ??
          (await findChainBreak(transaction, tenantId)) ??
          (await findUnbalancedMovement(transaction, tenantId)) ??
          (await findUnbalancedAsset(transaction, tenantId)) ??
          (await findLockedMismatch(transaction, tenantId))
        );
      });
    if (problem) {
      result.problem = problem;
      return result;
    }
  }
  return result;
}

type Reader = Kysely<Database>;

async function findWalletOffender(transaction: Reader, tenantId: string): Promise<LedgerProblem | undefined> {
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
  const wallet = rows.rows[0];
  if (!wallet) return undefined;
  const message =
    wallet.sequence_max !== wallet.entries
      ? `entry_sequence has a gap: ${wallet.entries} entries but the highest sequence is ${wallet.sequence_max}`
      : wallet.entry_count !== wallet.entries
        ? `entry_count is ${wallet.entry_count} but the wallet has ${wallet.entries} entries`
        : `balance ${wallet.balance} differs from the sum of its entries ${wallet.entry_sum} or the last balance_after ${wallet.last_balance_after ?? 'none'}`;
  return { tenantId, kind: 'wallet_balance', subject: `wallet ${wallet.id} (${wallet.asset_code})`, message };
}

async function findChainBreak(transaction: Reader, tenantId: string): Promise<LedgerProblem | undefined> {
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
  const row = rows.rows[0];
  if (!row) return undefined;
  return {
    tenantId,
    kind: 'entry_chain',
    subject: `wallet ${row.wallet_id} entry ${row.entry_sequence}`,
    message: `balance_before ${row.balance_before} does not continue the previous balance_after ${row.previous}`,
  };
}

async function findUnbalancedMovement(
  transaction: Reader,
  tenantId: string,
): Promise<LedgerProblem | undefined> {
  const rows = await sql<{ movement_id: string; total: string; assets: number }>`
    select movement_id, sum(balance_after - balance_before)::text as total, count(distinct asset_code)::bigint as assets
    from transactions where tenant_id = ${tenantId}
    group by movement_id
    having sum(balance_after - balance_before) <> 0 or count(distinct asset_code) <> 1
    order by movement_id limit 1`.execute(transaction);
  const row = rows.rows[0];
  if (!row) return undefined;
  return {
    tenantId,
    kind: 'movement_sum',
    subject: `movement ${row.movement_id}`,
    message: `entries sum to ${row.total} across ${row.assets} assets instead of zero within one asset`,
  };
}

async function findUnbalancedAsset(
  transaction: Reader,
  tenantId: string,
): Promise<LedgerProblem | undefined> {
  const rows = await sql<{ asset_code: string; total: string }>`
    select asset_code, sum(balance)::text as total from wallets where tenant_id = ${tenantId}
    group by asset_code having sum(balance) <> 0 order by asset_code limit 1`.execute(transaction);
  const row = rows.rows[0];
  if (!row) return undefined;
  return {
    tenantId,
    kind: 'asset_sum',
    subject: `asset ${row.asset_code}`,
    message: `wallet balances sum to ${row.total} instead of zero`,
  };
}

async function findLockedMismatch(transaction: Reader, tenantId: string): Promise<LedgerProblem | undefined> {
  const rows = await sql<{ id: string; locked: string; held: string }>`
    select w.id, w.locked::text as locked, coalesce(h.held, 0)::text as held from wallets w
    left join (
      select wallet_id, sum(amount) as held from balance_holds
      where tenant_id = ${tenantId} and status = 'active' group by wallet_id
    ) h on h.wallet_id = w.id
    where w.tenant_id = ${tenantId} and w.locked <> coalesce(h.held, 0)
    order by w.id limit 1`.execute(transaction);
  const row = rows.rows[0];
  if (!row) return undefined;
  return {
    tenantId,
    kind: 'locked_holds',
    subject: `wallet ${row.id}`,
    message: `locked ${row.locked} differs from its active holds ${row.held}`,
  };
}
