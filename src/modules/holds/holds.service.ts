import { v7 as uuidV7 } from 'uuid';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { decodeIdCursor, nextIdCursor } from '../../platform/pagination.ts';
import { type EntryType, postMovement } from '../ledger/ledger-posting.ts';
import type { MoneyServices } from '../ledger/money-services.ts';
import { withMoneyTransaction } from '../ledger/money-transaction.ts';
import { requireCustomer, requireTenantUser } from '../staff/staff-users.repository.ts';
import { assertAmount, requireAsset } from '../wallets/assets.service.ts';
import { ensureSystemWallet, findCustomerWalletId } from '../wallets/wallets.repository.ts';
import {
  changeLocked,
  endHold,
  findHold,
  type HoldRow,
  insertHold,
  listHolds,
  lockWallet,
} from './holds.repository.ts';

export interface PlaceHoldInput {
  user_id: string;
  amount: number;
  asset?: string | undefined;
  reason: string;
}

/** Holds staff place; a withdrawal's hold belongs to its operation and only the payout worker ends it. */
const staffHoldReason = 'staff';

/**
 * Reserves part of a wallet's available balance: `locked` grows by the amount under the wallet lock,
 * so a hold can never exceed what is available (seed 002 balance locking).
 */
export async function placeHold(
  transaction: ScopedTransaction,
  tenantId: string,
  walletId: string,
  amount: number,
  reason: string,
  createdBy: string,
  operationId?: string,
): Promise<HoldRow> {
  const wallet = await lockWallet(transaction, tenantId, walletId);
  if (!wallet || wallet.balance - wallet.locked < amount) {
    throw new AppError('INSUFFICIENT_FUNDS', undefined, [
      { field: 'body.amount', reason: 'exceeds the available balance' },
    ]);
  }
  const hold = await insertHold(transaction, tenantId, {
    id: uuidV7(),
    walletId,
    amount,
    reason,
    createdBy,
    ...(operationId ? { operationId } : {}),
  });
  await changeLocked(transaction, tenantId, walletId, amount);
  return hold;
}

/** Ends an active hold and gives its amount back to `available`; false when it was not active. */
export async function releaseHold(
  transaction: ScopedTransaction,
  tenantId: string,
  hold: HoldRow,
): Promise<boolean> {
  await lockWallet(transaction, tenantId, hold.wallet_id);
  const ended = await endHold(transaction, tenantId, hold.id, 'released');
  if (!ended) return false;
  await changeLocked(transaction, tenantId, hold.wallet_id, -hold.amount);
  return true;
}

/**
 * Ends an active hold by debiting its amount to the asset's cash-out account in one movement: the
 * balance and the locked amount fall together. Returns the movement id, or undefined when the hold
 * was not active (already released or captured).
 */
export async function captureHold(
  transaction: ScopedTransaction,
  tenantId: string,
  hold: HoldRow,
  entryType: EntryType,
  operationId?: string,
): Promise<string | undefined> {
  const ended = await endHold(transaction, tenantId, hold.id, 'captured');
  if (!ended) return undefined;
  const asset = await transaction
    .selectFrom('wallets')
    .select('asset_code')
    .where('tenant_id', '=', tenantId)
    .where('id', '=', hold.wallet_id)
    .executeTakeFirstOrThrow();
  const cashOutId = await ensureSystemWallet(transaction, tenantId, asset.asset_code, 'cash_out');
  const movementId = uuidV7();
  await postMovement(transaction, tenantId, movementId, [
    {
      walletId: hold.wallet_id,
      delta: -hold.amount,
      lockedDelta: -hold.amount,
      type: entryType,
      counterpartyWalletId: cashOutId,
      operationId,
    },
    {
      walletId: cashOutId,
      delta: hold.amount,
      type: entryType,
      counterpartyWalletId: hold.wallet_id,
      operationId,
    },
  ]);
  return movementId;
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

/** Staff: POST /v1/admin/holds. */
export async function placeStaffHold(
  services: MoneyServices,
  principal: Principal,
  audit: AuditContext,
  input: PlaceHoldInput,
): Promise<HoldView> {
  return withMoneyTransaction(
    services.db,
    { tenantId: principal.tenantId },
    services.money.transactionAttemptsMax,
    async (transaction) => {
      await requireCustomer(transaction, principal.tenantId, input.user_id);
      const asset = await requireAsset(transaction, input.asset ?? 'IDR');
      assertAmount(input.amount, asset);
      const walletId = await findCustomerWalletId(transaction, principal.tenantId, input.user_id, asset.code);
      if (!walletId) throw new AppError('INSUFFICIENT_FUNDS');
      const hold = await placeHold(
        transaction,
        principal.tenantId,
        walletId,
        input.amount,
        `${staffHoldReason}: ${input.reason}`,
        principal.userId,
      );
      await recordAudit(transaction, audit, {
        entityType: 'balance_hold',
        entityId: hold.id,
        action: 'HOLD_PLACE',
        newValues: { wallet: walletId, amount: input.amount, reason: input.reason },
      });
      return holdView(hold);
    },
  );
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
  return withMoneyTransaction(
    services.db,
    { tenantId },
    services.money.transactionAttemptsMax,
    async (transaction) => {
      if (services.money.maintenanceMode && outcome === 'captured') throw new AppError('MAINTENANCE_MODE');
      const hold = await findHold(transaction, tenantId, holdId);
      if (!hold) throw new AppError('NOT_FOUND', 'The hold does not exist.');
      if (hold.operation_id !== null) {
        throw new AppError('CONFLICT', 'This hold belongs to a withdrawal; the payout worker ends it.');
      }
      // Lock the wallet before ending the hold so capture and release serialize with every movement.
      await lockWallet(transaction, tenantId, hold.wallet_id);
      const ended =
        outcome === 'released'
          ? await releaseHold(transaction, tenantId, hold)
          : (await captureHold(transaction, tenantId, hold, 'hold_capture')) !== undefined;
      if (!ended) throw new AppError('HOLD_NOT_ACTIVE');
      await recordAudit(transaction, audit, {
        entityType: 'balance_hold',
        entityId: hold.id,
        action: outcome === 'released' ? 'HOLD_RELEASE' : 'HOLD_CAPTURE',
        oldValues: { status: 'active' },
        newValues: { status: outcome, amount: hold.amount },
      });
      const after = await findHold(transaction, tenantId, holdId);
      if (!after) throw new Error('hold vanished within its transaction');
      return holdView(after);
    },
  );
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
