import assert from 'node:assert/strict';
import { v7 as uuidV7 } from 'uuid';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { AppError } from '../../platform/errors.ts';
import {
  type EntryRow,
  lockCustomerWalletRow,
  lockWalletRows,
  type WalletBalanceRow,
  writeBalancesAndEntries,
  writeLockedAmount,
} from './ledger-posting.repository.ts';

export type EntryType = 'topup' | 'withdraw' | 'transfer_out' | 'transfer_in' | 'fee' | 'hold_capture';

export interface EntryRequest {
  walletId: string;
  /** Signed change in minor units: positive credits the wallet, negative debits it. */
  delta: number;
  type: EntryType;
  description?: string | undefined;
  counterpartyWalletId?: string | undefined;
  operationId?: string | undefined;
  /** Signed change of the wallet's locked amount in the same write (a captured hold passes −amount). */
  lockedDelta?: number | undefined;
}

export interface PostedEntry {
  id: string;
  walletId: string;
  userId: string | null;
  type: EntryType;
  amount: number;
  /**
   * Exact balances as BIGINT values. A system wallet (cash-in, cash-out, fees) accumulates every flow
   * of its asset and may pass 2^53; a customer wallet never does (see customerBalanceMaximum), so
   * customerBalances() turns a customer entry's balances into JSON-safe numbers.
   */
  balanceBefore: bigint;
  balanceAfter: bigint;
  entrySequence: number;
}

/** The customer wallets of a movement as they will be once it applies, for rules that need a balance. */
export interface LockedWallet {
  id: string;
  user_id: string | null;
  asset_code: string;
  balance: number;
  locked: number;
}

/**
 * A customer balance is a JSON number in every response, so it never leaves the exact integer range
 * of a double: a credit that would take a customer wallet past it is refused (BALANCE_LIMIT_EXCEEDED)
 * before anything is written, and a CHECK constraint (migration 0009) refuses it again.
 */
export const customerBalanceMaximum = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * System wallets are BIGINT in the database and exact BigInts here: their range is PostgreSQL's
 * int8. Reaching it would take 9.2 × 10^18 minor units of cumulative flow through one tenant's
 * account; a posting that would pass it is refused (SUPPLY_LIMIT_EXCEEDED), never wrapped or rounded.
 */
export const systemBalanceMaximum = 2n ** 63n - 1n;

interface WalletState {
  id: string;
  user_id: string | null;
  asset_code: string;
  kind: 'customer' | 'system';
  balance: bigint;
  locked: bigint;
  entry_count: number;
}

export interface PostingOptions {
  /**
   * Runs once the wallets are locked, before their new balances are computed: a condition that must
   * hold under the lock for the movement to apply at all (a hold still active, ended here exactly once).
   */
  afterLock?: (() => Promise<void>) | undefined;
  /**
   * Runs after the wallets are locked and before anything is written, with the customer wallets'
   * balances as they will be once the movement applies. Rules that depend on a balance (tier limits)
   * belong here, because only under the lock is the balance they read the one the movement changes.
   */
  beforeWrite?: ((wallets: ReadonlyMap<string, LockedWallet>) => Promise<void>) | undefined;
}

/** A customer entry's balances as numbers; exact, because customer wallets stay below 2^53. */
export function customerBalances(entry: PostedEntry): { balanceBefore: number; balanceAfter: number } {
  assert.ok(entry.userId !== null, 'only a customer entry has JSON-safe balances');
  return { balanceBefore: toSafeNumber(entry.balanceBefore), balanceAfter: toSafeNumber(entry.balanceAfter) };
}

function toSafeNumber(value: bigint): number {
  assert.ok(value <= customerBalanceMaximum && value >= -customerBalanceMaximum, 'value leaves 2^53');
  return Number(value);
}

/**
 * Posts one balanced movement: every wallet's balance, entry count and ledger entry change in the
 * caller's transaction. Wallets are locked in id order so concurrent movements over overlapping
 * wallets cannot deadlock each other. A customer wallet may never go below its locked amount
 * (INSUFFICIENT_FUNDS); the database CHECKs refuse it again should this code ever be wrong.
 */
export async function postMovement(
  transaction: ScopedTransaction,
  tenantId: string,
  movementId: string,
  entries: readonly EntryRequest[],
  options: PostingOptions = {},
): Promise<PostedEntry[]> {
  assert.ok(entries.length >= 2, 'a movement has at least two entries');
  assert.equal(
    entries.reduce((sum, entry) => sum + entry.delta, 0),
    0,
    'a movement must sum to zero',
  );
  for (const entry of entries) assert.ok(Number.isSafeInteger(entry.delta) && entry.delta !== 0);

  const wallets = await lockWallets(transaction, tenantId, entries);
  if (options.afterLock) await options.afterLock();
  const assets = new Set([...wallets.values()].map((wallet) => wallet.asset_code));
  assert.equal(assets.size, 1, 'a movement stays within one asset');
  const posted = applyEntries(entries, wallets);
  if (options.beforeWrite) await options.beforeWrite(customerView(wallets));
  await writeMovement(transaction, tenantId, movementId, entries, posted, wallets);
  return posted;
}

function applyEntries(entries: readonly EntryRequest[], wallets: Map<string, WalletState>): PostedEntry[] {
  const posted: PostedEntry[] = [];
  for (const entry of entries) {
    const wallet = wallets.get(entry.walletId);
    assert.ok(wallet, `wallet ${entry.walletId} not found in tenant`);
    const balanceBefore = wallet.balance;
    const balanceAfter = balanceBefore + BigInt(entry.delta);
    wallet.balance = balanceAfter;
    wallet.locked += BigInt(entry.lockedDelta ?? 0);
    wallet.entry_count += 1;
    posted.push({
      id: uuidV7(),
      walletId: wallet.id,
      userId: wallet.user_id,
      type: entry.type,
      amount: Math.abs(entry.delta),
      balanceBefore,
      balanceAfter,
      entrySequence: wallet.entry_count,
    });
  }
  for (const wallet of wallets.values()) assertWalletRange(wallet);
  return posted;
}

/** The rules every wallet's new state must satisfy before anything is written. */
function assertWalletRange(wallet: WalletState): void {
  if (wallet.kind === 'system') {
    if (wallet.balance > systemBalanceMaximum || wallet.balance < -systemBalanceMaximum) {
      throw new AppError('SUPPLY_LIMIT_EXCEEDED');
    }
    return;
  }
  assert.ok(wallet.locked >= 0n, 'a wallet cannot unlock more than it holds');
  if (wallet.balance < wallet.locked) {
    throw new AppError('INSUFFICIENT_FUNDS', undefined, [
      { field: 'body.amount', reason: 'exceeds the available balance' },
    ]);
  }
  if (wallet.balance > customerBalanceMaximum) {
    throw new AppError('BALANCE_LIMIT_EXCEEDED', undefined, [
      { field: 'body.amount', reason: `would take a balance above ${customerBalanceMaximum} minor units` },
    ]);
  }
}

function customerView(wallets: Map<string, WalletState>): Map<string, LockedWallet> {
  const view = new Map<string, LockedWallet>();
  for (const wallet of wallets.values()) {
    if (wallet.kind !== 'customer') continue;
    const { id, user_id, asset_code } = wallet;
    view.set(id, {
      id,
      user_id,
      asset_code,
      balance: toSafeNumber(wallet.balance),
      locked: toSafeNumber(wallet.locked),
    });
  }
  return view;
}

async function lockWallets(
  transaction: ScopedTransaction,
  tenantId: string,
  entries: readonly EntryRequest[],
): Promise<Map<string, WalletState>> {
  const walletIds = [...new Set(entries.map((entry) => entry.walletId))].sort();
  const rows = await lockWalletRows(transaction, tenantId, walletIds);
  assert.equal(rows.length, walletIds.length, 'every wallet of a movement exists in the tenant');
  return new Map(
    rows.map((row) => [row.id, { ...row, balance: BigInt(row.balance), locked: BigInt(row.locked) }]),
  );
}

/** Writes the new balances and the entries (one statement, writeBalancesAndEntries). */
async function writeMovement(
  transaction: ScopedTransaction,
  tenantId: string,
  movementId: string,
  entries: readonly EntryRequest[],
  posted: PostedEntry[],
  wallets: Map<string, WalletState>,
): Promise<void> {
  // BIGINT values go as JSON strings (jsonb_to_recordset parses them exactly); a JSON number could not.
  const balances: WalletBalanceRow[] = [...wallets.values()].map((wallet) => ({
    id: wallet.id,
    balance: wallet.balance.toString(),
    locked: wallet.locked.toString(),
    entry_count: wallet.entry_count,
  }));
  const rows: EntryRow[] = posted.map((entry, index) => {
    const request = entries[index];
    assert.ok(request);
    return {
      id: entry.id,
      user_id: entry.userId,
      wallet_id: entry.walletId,
      asset_code: wallets.get(entry.walletId)?.asset_code ?? '',
      entry_sequence: entry.entrySequence,
      type: entry.type,
      amount: entry.amount,
      balance_before: entry.balanceBefore.toString(),
      balance_after: entry.balanceAfter.toString(),
      description: request.description ?? null,
      counterparty_wallet_id: request.counterpartyWalletId ?? null,
      operation_id: request.operationId ?? null,
    };
  });
  const inserted = await writeBalancesAndEntries(transaction, tenantId, movementId, balances, rows);
  assert.equal(inserted.length, posted.length, 'every wallet of the movement was updated');
}

/**
 * Changes one customer wallet's locked amount (a hold placed: positive; released: negative) under the
 * wallet's row lock, the lock every movement of the wallet takes too. Locking more than is available
 * is INSUFFICIENT_FUNDS; unlocking more than is locked is a broken invariant.
 */
export async function changeLockedFunds(
  transaction: ScopedTransaction,
  tenantId: string,
  walletId: string,
  lockedDelta: number,
  options: PostingOptions = {},
): Promise<void> {
  assert.ok(Number.isSafeInteger(lockedDelta) && lockedDelta !== 0);
  const row = await lockCustomerWalletRow(transaction, tenantId, walletId);
  const insufficient = () =>
    new AppError('INSUFFICIENT_FUNDS', undefined, [
      { field: 'body.amount', reason: 'exceeds the available balance' },
    ]);
  if (!row && lockedDelta > 0) throw insufficient();
  assert.ok(row, `wallet ${walletId} to unlock is a customer wallet of the tenant`);
  if (options.afterLock) await options.afterLock();
  const balance = BigInt(row.balance);
  const locked = BigInt(row.locked) + BigInt(lockedDelta);
  assert.ok(locked >= 0n, 'a wallet cannot unlock more than it holds');
  if (lockedDelta > 0 && balance < locked) throw insufficient();
  const view = { id: row.id, user_id: row.user_id, asset_code: row.asset_code };
  const after = { ...view, balance: toSafeNumber(balance), locked: toSafeNumber(locked) };
  if (options.beforeWrite) await options.beforeWrite(new Map([[walletId, after]]));
  await writeLockedAmount(transaction, tenantId, walletId, locked);
}
