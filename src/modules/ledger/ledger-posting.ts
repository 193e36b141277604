import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { v7 as uuidV7 } from 'uuid';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

export type EntryType = 'topup' | 'withdraw' | 'transfer_out' | 'transfer_in' | 'fee' | 'hold_capture';

export interface EntryRequest {
  walletId: string;
  /** Signed change in minor units: positive credits the wallet, negative debits it. */
  delta: number;
  type: EntryType;
  description?: string | undefined;
  counterpartyWalletId?: string | undefined;
  operationId?: string | undefined;
}

export interface PostedEntry {
  id: string;
  walletId: string;
  userId: string | null;
  type: EntryType;
  amount: number;
  balanceBefore: number;
  balanceAfter: number;
  entrySequence: number;
}

interface LockedWallet {
  id: string;
  user_id: string | null;
  asset_code: string;
  kind: 'customer' | 'system';
  balance: number;
  locked: number;
  entry_count: number;
}

/**
 * Posts one balanced movement: every wallet's balance, entry count and ledger entry change in the
 * caller's transaction. Wallets are locked in id order so concurrent movements over overlapping
 * wallets cannot deadlock each other. The database CHECKs refuse a customer balance below zero or
 * below its locked amount; the caller turns that into an insufficient-funds error.
 */
export async function postMovement(
  transaction: ScopedTransaction,
  tenantId: string,
  movementId: string,
  entries: readonly EntryRequest[],
): Promise<PostedEntry[]> {
  assert.ok(entries.length >= 2, 'a movement has at least two entries');
  assert.equal(
    entries.reduce((sum, entry) => sum + entry.delta, 0),
    0,
    'a movement must sum to zero',
  );
  for (const entry of entries) assert.ok(Number.isSafeInteger(entry.delta) && entry.delta !== 0);

  const wallets = await lockWallets(transaction, tenantId, entries);
  const assets = new Set([...wallets.values()].map((wallet) => wallet.asset_code));
  assert.equal(assets.size, 1, 'a movement stays within one asset');
  const posted: PostedEntry[] = [];
  for (const entry of entries) {
    const wallet = wallets.get(entry.walletId);
    assert.ok(wallet, `wallet ${entry.walletId} not found in tenant`);
    const balanceBefore = wallet.balance;
    const balanceAfter = balanceBefore + entry.delta;
    assert.ok(Number.isSafeInteger(balanceAfter), 'balance leaves the exact integer range');
    wallet.balance = balanceAfter;
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
  await writeBalances(transaction, tenantId, [...wallets.values()]);
  await writeEntries(transaction, tenantId, movementId, entries, posted, wallets);
  return posted;
}

async function lockWallets(
  transaction: ScopedTransaction,
  tenantId: string,
  entries: readonly EntryRequest[],
): Promise<Map<string, LockedWallet>> {
  const walletIds = [...new Set(entries.map((entry) => entry.walletId))].sort();
  const rows = await sql<LockedWallet>`
    select id, user_id, asset_code, kind, balance, locked, entry_count from wallets
    where tenant_id = ${tenantId} and id = any(${walletIds}::uuid[])
    order by id for update`.execute(transaction);
  return new Map(rows.rows.map((row) => [row.id, { ...row }]));
}

async function writeBalances(
  transaction: ScopedTransaction,
  tenantId: string,
  wallets: readonly LockedWallet[],
): Promise<void> {
  const values = wallets.map((wallet) => ({
    id: wallet.id,
    balance: wallet.balance,
    entry_count: wallet.entry_count,
  }));
  await sql`
    update wallets w set balance = v.balance, entry_count = v.entry_count
    from jsonb_to_recordset(${JSON.stringify(values)}::jsonb) as v(id uuid, balance bigint, entry_count bigint)
    where w.tenant_id = ${tenantId} and w.id = v.id`.execute(transaction);
}

async function writeEntries(
  transaction: ScopedTransaction,
  tenantId: string,
  movementId: string,
  entries: readonly EntryRequest[],
  posted: PostedEntry[],
  wallets: Map<string, LockedWallet>,
): Promise<void> {
  const rows = posted.map((entry, index) => {
    const request = entries[index];
    assert.ok(request);
    return {
      tenant_id: tenantId,
      id: entry.id,
      user_id: entry.userId,
      wallet_id: entry.walletId,
      asset_code: wallets.get(entry.walletId)?.asset_code ?? '',
      entry_sequence: entry.entrySequence,
      type: entry.type,
      amount: entry.amount,
      balance_before: entry.balanceBefore,
      balance_after: entry.balanceAfter,
      status: 'completed' as const,
      description: request.description ?? null,
      movement_id: movementId,
      counterparty_wallet_id: request.counterpartyWalletId ?? null,
      operation_id: request.operationId ?? null,
    };
  });
  await transaction.insertInto('transactions').values(rows).execute();
}
