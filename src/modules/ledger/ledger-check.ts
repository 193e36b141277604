import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { applicationRole, applyScope } from '../../db/tenant-transaction.ts';
import {
  countWalletsAndEntries,
  findChainBreakRow,
  findLockedMismatchRow,
  findUnbalancedAssetRow,
  findUnbalancedMovementRow,
  findWalletOffenderRow,
  listTenantIdsInOrder,
} from './ledger-check.repository.ts';

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

/**
 * Proves the ledger's invariants tenant by tenant, each in one repeatable-read snapshot so concurrent
 * traffic cannot produce a false alarm: every wallet's balance equals its last entry's balance_after
 * and the sum of its signed entries; its entries are numbered 1…n without a gap and each starts where
 * the previous one ended; every movement and every asset sums to zero; locked equals the active holds.
 * Returns the first offender found, in that order.
 */
export async function checkLedger(db: Kysely<Database>): Promise<LedgerCheckResult> {
  const tenants = await listTenantIdsInOrder(db);
  const result: LedgerCheckResult = { tenants: tenants.length, wallets: 0, entries: 0, problem: undefined };
  for (const { id: tenantId } of tenants) {
    const problem = await db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (transaction) => {
        await applyScope(transaction, { tenantId }, applicationRole);
        const counts = await countWalletsAndEntries(transaction, tenantId);
        result.wallets += counts?.wallets ?? 0;
        result.entries += counts?.entries ?? 0;
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
  const wallet = await findWalletOffenderRow(transaction, tenantId);
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
  const row = await findChainBreakRow(transaction, tenantId);
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
  const row = await findUnbalancedMovementRow(transaction, tenantId);
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
  const row = await findUnbalancedAssetRow(transaction, tenantId);
  if (!row) return undefined;
  return {
    tenantId,
    kind: 'asset_sum',
    subject: `asset ${row.asset_code}`,
    message: `wallet balances sum to ${row.total} instead of zero`,
  };
}

async function findLockedMismatch(transaction: Reader, tenantId: string): Promise<LedgerProblem | undefined> {
  const row = await findLockedMismatchRow(transaction, tenantId);
  if (!row) return undefined;
  return {
    tenantId,
    kind: 'locked_holds',
    subject: `wallet ${row.id}`,
    message: `locked ${row.locked} differs from its active holds ${row.held}`,
  };
}
