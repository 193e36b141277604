import assert from 'node:assert/strict';
import { v7 as uuidV7 } from 'uuid';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import type { AuditContext } from '../../platform/audit/audit-trail.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { decodeIdCursor, nextIdCursor } from '../../platform/pagination.ts';
import { type BalanceChange, postWithoutKey } from '../ledger/ledger.engine.ts';
import type { EntryType } from '../ledger/ledger-posting.ts';
import type { MoneyServices } from '../ledger/money-services.ts';
import { withMoneyTransaction } from '../ledger/money-transaction.ts';
import { requireCustomer, requireTenantUser } from '../staff/staff-users.repository.ts';
import { assertAmount, requireAsset } from '../wallets/assets.service.ts';
import {
  ensureSystemWallet,
  findCustomerWalletId,
  findWalletAssetCode,
} from '../wallets/wallets.repository.ts';
import { endHold, findHold, type HoldRow, insertHold, listHolds } from './holds.repository.ts';

export interface PlaceHoldInput {
  user_id: string;
  amount: number;
  asset?: string | undefined;
  reason: string;
}

/** Holds staff place; a withdrawal's hold belongs to its operation and only the payout worker ends it. */
const staffHoldReason = 'staff';

/**
 * A hold's end as the engine posts it: the balance change, and `end`, which ends the hold row under
 * the wallet lock (the `status = 'active'` condition makes it happen once) and returns it, or
 * undefined when the hold was no longer active. Release gives the amount back to `available`;
 * capture debits it to the asset's cash-out account in one movement, balance and locked falling together.
 */
export interface HoldEnding {
  change: BalanceChange;
  end: () => Promise<HoldRow | undefined>;
}

export function holdRelease(transaction: ScopedTransaction, tenantId: string, hold: HoldRow): HoldEnding {
  return {
    change: { kind: 'unlock', walletId: hold.wallet_id, amount: hold.amount },
    end: () => endHold(transaction, tenantId, hold.id, 'released'),
  };
}

export async function holdCapture(
  transaction: ScopedTransaction,
  tenantId: string,
  hold: HoldRow,
  capture: { entryType: EntryType; movementId: string; operationId?: string | undefined },
): Promise<HoldEnding> {
  const assetCode = await findWalletAssetCode(transaction, tenantId, hold.wallet_id);
  const cashOutId = await ensureSystemWallet(transaction, tenantId, assetCode, 'cash_out');
  const { entryType: type, operationId } = capture;
  return {
    change: {
      kind: 'movement',
      movementId: capture.movementId,
      entries: [
        {
          walletId: hold.wallet_id,
          delta: -hold.amount,
          lockedDelta: -hold.amount,
          type,
          counterpartyWalletId: cashOutId,
          operationId,
        },
        { walletId: cashOutId, delta: hold.amount, type, counterpartyWalletId: hold.wallet_id, operationId },
      ],
    },
    end: () => endHold(transaction, tenantId, hold.id, 'captured'),
  };
}

export interface HoldView {
  id: string;
  wallet_id: string;
  amount: number;
  status: HoldRow['status'];
  reason: string | null;
  operation_id: string | null;
  created_at: string;
  released_at: string | null;
  captured_at: string | null;
}

export function holdView(hold: HoldRow): HoldView {
  return {
    id: hold.id,
    wallet_id: hold.wallet_id,
    amount: hold.amount,
    status: hold.status,
    reason: hold.reason,
    operation_id: hold.operation_id,
    created_at: hold.created_at.toISOString(),
    released_at: hold.released_at?.toISOString() ?? null,
    captured_at: hold.captured_at?.toISOString() ?? null,
  };
}

/**
 * Staff: POST /v1/admin/holds. Reserves part of a wallet's available balance: `locked` grows by the
 * amount under the wallet lock, so a hold can never exceed what is available (seed 002 balance locking).
 */
export async function placeStaffHold(
  services: MoneyServices,
  principal: Principal,
  audit: AuditContext,
  input: PlaceHoldInput,
): Promise<HoldView> {
  const tenantId = principal.tenantId;
  return postWithoutKey(services, { tenantId }, async (transaction) => {
    await requireCustomer(transaction, tenantId, input.user_id);
    const asset = await requireAsset(transaction, input.asset ?? 'IDR');
    assertAmount(input.amount, asset);
    const walletId = await findCustomerWalletId(transaction, tenantId, input.user_id, asset.code);
    if (!walletId) throw new AppError('INSUFFICIENT_FUNDS');
    const holdId = uuidV7();
    let hold: HoldRow | undefined;
    return {
      change: { kind: 'lock', walletId, amount: input.amount },
      audit: {
        context: audit,
        entry: {
          entityType: 'balance_hold',
          entityId: holdId,
          action: 'HOLD_PLACE',
          newValues: { wallet: walletId, amount: input.amount, reason: input.reason },
        },
      },
      afterWrite: async () => {
        hold = await insertHold(transaction, tenantId, {
          id: holdId,
          walletId,
          amount: input.amount,
          reason: `${staffHoldReason}: ${input.reason}`,
          createdBy: principal.userId,
        });
      },
      respond: () => holdView(requireRow(hold)),
    };
  });
}

/** Staff: POST /v1/admin/holds/{id}/release and /capture; each succeeds once, then HOLD_NOT_ACTIVE. */
export async function endStaffHold(
  services: MoneyServices,
  principal: Principal,
  audit: AuditContext,
  holdId: string,
  outcome: 'released' | 'captured',
): Promise<HoldView> {
  const tenantId = principal.tenantId;
  return postWithoutKey(services, { tenantId }, async (transaction) => {
    if (services.money.maintenanceMode && outcome === 'captured') throw new AppError('MAINTENANCE_MODE');
    const hold = await findHold(transaction, tenantId, holdId);
    if (!hold) throw new AppError('NOT_FOUND', 'The hold does not exist.');
    if (hold.operation_id !== null) {
      throw new AppError('CONFLICT', 'This hold belongs to a withdrawal; the payout worker ends it.');
    }
    const ending =
      outcome === 'released'
        ? holdRelease(transaction, tenantId, hold)
        : await holdCapture(transaction, tenantId, hold, { entryType: 'hold_capture', movementId: uuidV7() });
    let ended: HoldRow | undefined;
    return {
      change: ending.change,
      // Ended under the wallet lock, so capture and release serialize with every movement of the wallet.
      afterLock: async () => {
        ended = await ending.end();
        if (!ended) throw new AppError('HOLD_NOT_ACTIVE');
      },
      audit: {
        context: audit,
        entry: {
          entityType: 'balance_hold',
          entityId: hold.id,
          action: outcome === 'released' ? 'HOLD_RELEASE' : 'HOLD_CAPTURE',
          oldValues: { status: 'active' },
          newValues: { status: outcome, amount: hold.amount },
        },
      },
      respond: () => holdView(requireRow(ended)),
    };
  });
}

function requireRow(hold: HoldRow | undefined): HoldRow {
  assert.ok(hold, 'the hold row was written in this transaction');
  return hold;
}

export async function listUserHolds(
  services: MoneyServices,
  principal: Principal,
  userId: string,
  query: { limit: number; cursor?: string | undefined },
): Promise<{ holds: HoldView[]; next_cursor: string | null }> {
  const beforeId = query.cursor ? decodeIdCursor(query.cursor) : undefined;
  return withMoneyTransaction(services.db, { tenantId: principal.tenantId }, 1, async (transaction) => {
    await requireTenantUser(transaction, principal.tenantId, userId);
    const rows = await listHolds(transaction, principal.tenantId, userId, { limit: query.limit, beforeId });
    return { holds: rows.slice(0, query.limit).map(holdView), next_cursor: nextIdCursor(rows, query.limit) };
  });
}
