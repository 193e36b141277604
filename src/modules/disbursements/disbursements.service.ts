import assert from 'node:assert/strict';
import { v7 as uuidV7 } from 'uuid';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError, type ErrorDetail } from '../../platform/errors.ts';
import { userStatus } from '../identity/user-status.ts';
import { assertUniqueReferences } from '../ledger/batch-references.ts';
import type { MoneyResponse } from '../ledger/idempotency.ts';
import { postKeyed } from '../ledger/ledger.engine.ts';
import { type EntryType, postMovement } from '../ledger/ledger-posting.ts';
import type { MoneyServices } from '../ledger/money-services.ts';
import { claimStaffCredit, giveBackStaffCredit } from '../limits/limits.repository.ts';
import { assertBalanceWithinLimit, limitsFor } from '../limits/limits.rules.ts';
import { assertAmount, requireAsset } from '../wallets/assets.service.ts';
import type { AssetRow } from '../wallets/wallets.repository.ts';
import { ensureCustomerWallet, ensureSystemWallet } from '../wallets/wallets.repository.ts';
import {
  type DisbursementRecipient,
  findRecipients,
  findWallet,
  inSavepoint,
  isTenantInMaintenance,
  lockWallets,
} from './disbursements.repository.ts';
import {
  type DisbursementBody,
  type DisbursementSourcePurpose,
  disbursementItemsMax,
  disbursementSourcePurposes,
} from './disbursements.schemas.ts';

export const disbursementEndpoint = 'POST /v1/admin/disbursements';
export const disbursementPermission = 'disbursements:submit';

type DisbursementItem = DisbursementBody['transfers'][number];

interface Source {
  id: string;
  purpose: DisbursementSourcePurpose;
}

/** What every item of one batch shares, inside its money transaction. */
interface BatchContext {
  services: MoneyServices;
  transaction: ScopedTransaction;
  tenantId: string;
  asset: AssetRow;
  source: Source;
  /** The source's balance under its lock, as the items before this one left it. */
  sourceBalance: bigint;
  recipients: Map<string, DisbursementRecipient>;
}

type ItemOutcome =
  | ({ index: number; reference: string | null; status: 'completed'; amount: number } & Record<
      string,
      unknown
    >)
  | { index: number; reference: string | null; status: 'rejected'; error: Record<string, unknown> };

/**
 * Staff pay up to 1,000 customers from one system wallet of the tenant under one Idempotency-Key:
 * `atomic` posts all or none (the first failing item is named by its index), otherwise each item
 * gets its own outcome. Paying from cash_in issues new money, so the batch's total counts against the
 * staff member's direct credits of the day exactly as a staff top-up does, and a batch that would
 * take them past the approval threshold is refused as a whole (a batch has no checker to wait for).
 */
export async function disburse(
  services: MoneyServices,
  principal: Principal,
  audit: AuditContext,
  idempotencyKey: string,
  input: DisbursementBody,
): Promise<MoneyResponse> {
  // The permission is granted to staff roles only; a customer's users.permissions must not add it.
  if (!principal.isStaff) throw new AppError('FORBIDDEN');
  if (services.money.maintenanceMode) throw new AppError('MAINTENANCE_MODE');
  assert.ok(input.transfers.length >= 1 && input.transfers.length <= disbursementItemsMax);
  assertUniqueReferences(input.transfers);
  const asset = await requireAsset(services.db, input.asset ?? 'IDR');
  let total = 0;
  for (const [index, item] of input.transfers.entries()) {
    assertAmount(item.amount, asset, `body.transfers.${index}.amount`);
    total += item.amount;
  }
  // Each amount is below 2^53, a thousand of them may not be: the total must stay an exact number.
  if (!Number.isSafeInteger(total)) {
    throw new AppError('VALIDATION_FAILED', undefined, [
      { field: 'body.transfers', reason: `the amounts add up to more than ${Number.MAX_SAFE_INTEGER}` },
    ]);
  }
  const request = {
    callerId: principal.userId,
    key: idempotencyKey,
    endpoint: disbursementEndpoint,
    body: input,
  };
  return postKeyed(services, { tenantId: principal.tenantId }, request, (transaction) =>
    postDisbursement(services, transaction, principal, audit, { input, asset, total }),
  );
}

async function postDisbursement(
  services: MoneyServices,
  transaction: ScopedTransaction,
  principal: Principal,
  audit: AuditContext,
  batch: { input: DisbursementBody; asset: AssetRow; total: number },
): Promise<MoneyResponse> {
  const { input, asset, total } = batch;
  const tenantId = principal.tenantId;
  if (await isTenantInMaintenance(transaction, tenantId)) throw new AppError('MAINTENANCE_MODE');
  const source = await resolveSource(transaction, tenantId, input.source, asset.code);
  // Claimed before any wallet is locked, in the order a staff top-up takes the same two locks.
  if (source.purpose === 'cash_in') await claimIssuance(services, transaction, principal, asset.code, total);
  const accountNumbers = [...new Set(input.transfers.map((item) => item.to_account_number))];
  const recipients = await findRecipients(transaction, tenantId, accountNumbers, asset.code);
  const recipientWallets = [...recipients.values()].flatMap((recipient) => recipient.walletId ?? []);
  const balances = await lockWallets(transaction, tenantId, [source.id, ...recipientWallets]);
  const sourceBalance = balances.get(source.id);
  assert.ok(sourceBalance !== undefined, 'the source wallet was locked');
  const context: BatchContext = { services, transaction, tenantId, asset, source, sourceBalance, recipients };
  const items = input.atomic
    ? await postAll(context, input.transfers)
    : await postEach(context, input.transfers);
  const completed = items.flatMap((item) => (item.status === 'completed' ? [item] : []));
  const paid = completed.reduce((sum, item) => sum + item.amount, 0);
  if (source.purpose === 'cash_in' && paid < total) {
    await giveBackStaffCredit(transaction, tenantId, principal.userId, asset.code, total - paid);
  }
  const disbursementId = uuidV7();
  const rejected = items.length - completed.length;
  await recordAudit(transaction, audit, {
    entityType: 'disbursement',
    entityId: disbursementId,
    action: 'DISBURSEMENT',
    newValues: {
      source_wallet: source.id,
      source_purpose: source.purpose,
      asset: asset.code,
      atomic: input.atomic,
      count: items.length,
      completed: completed.length,
      rejected,
      total_amount: paid,
    },
  });
  const status = rejected === 0 ? 'completed' : completed.length === 0 ? 'rejected' : 'partial';
  const body = {
    disbursement_id: disbursementId,
    source: { wallet_id: source.id, purpose: source.purpose },
    asset: asset.code,
    atomic: input.atomic,
    status,
    completed: completed.length,
    rejected,
    total_amount: paid,
    items,
  };
  return { status: 201, body };
}

/**
 * The paying wallet: a system wallet of the tenant and of the batch's asset, never cash-out (it only
 * receives). By purpose it is opened on first use, as every system wallet is.
 */
async function resolveSource(
  transaction: ScopedTransaction,
  tenantId: string,
  named: string,
  assetCode: string,
): Promise<Source> {
  const purpose = disbursementSourcePurposes.find((candidate) => candidate === named);
  if (purpose) return { id: await ensureSystemWallet(transaction, tenantId, assetCode, purpose), purpose };
  const wallet = await findWallet(transaction, tenantId, named);
  if (wallet?.kind !== 'system') {
    throw new AppError('NOT_FOUND', 'No system wallet of this tenant has this id.', [
      { field: 'body.source', reason: 'names no system wallet of the tenant' },
    ]);
  }
  const allowed = disbursementSourcePurposes.find((candidate) => candidate === wallet.system_purpose);
  if (!allowed) {
    throw new AppError('VALIDATION_FAILED', undefined, [
      { field: 'body.source', reason: `is the ${wallet.system_purpose} account, which only receives` },
    ]);
  }
  if (wallet.asset_code !== assetCode) {
    throw new AppError('VALIDATION_FAILED', undefined, [
      { field: 'body.source', reason: `holds ${wallet.asset_code}, not the batch's asset ${assetCode}` },
    ]);
  }
  return { id: wallet.id, purpose: allowed };
}

/**
 * Maker–checker (issue 7.6): new money from cash_in counts against the staff member's direct credits
 * of the UTC day (daily_totals, kind staff_credit) in one conditional upsert, so two concurrent
 * batches cannot both pass. A staff top-up above the threshold waits for a checker (202); a batch has
 * no such path, so it is refused and nothing of it moves.
 */
async function claimIssuance(
  services: MoneyServices,
  transaction: ScopedTransaction,
  principal: Principal,
  assetCode: string,
  total: number,
): Promise<void> {
  const threshold = services.money.staffTopupApprovalThresholds.get(assetCode) ?? 0;
  if (
    await claimStaffCredit(transaction, principal.tenantId, principal.userId, assetCode, total, threshold)
  ) {
    return;
  }
  throw new AppError('APPROVAL_REQUIRED', undefined, [
    {
      field: 'body.transfers',
      reason: `the batch total of ${total} would take your direct ${assetCode} credits of today above the approval threshold of ${threshold}`,
    },
  ]);
}

/** Atomic: the first item that fails refuses the batch; the caller's transaction then undoes all. */
async function postAll(
  context: BatchContext,
  transfers: readonly DisbursementItem[],
): Promise<ItemOutcome[]> {
  const outcomes: ItemOutcome[] = [];
  for (const [index, item] of transfers.entries()) {
    try {
      outcomes.push(await postItem(context, item, index));
    } catch (error) {
      if (!isItemRejection(error)) throw error;
      throw new AppError(
        error.code,
        `Transfer ${index} of the batch was refused, so none was made: ${error.message}`,
        error.details,
      );
    }
  }
  return outcomes;
}

/** Non-atomic: each item in its own savepoint, so a refused one leaves nothing and the others post. */
async function postEach(
  context: BatchContext,
  transfers: readonly DisbursementItem[],
): Promise<ItemOutcome[]> {
  const outcomes: ItemOutcome[] = [];
  for (const [index, item] of transfers.entries()) {
    try {
      outcomes.push(await inSavepoint(context.transaction, () => postItem(context, item, index)));
    } catch (error) {
      if (!isItemRejection(error)) throw error;
      const body: Record<string, unknown> = { code: error.code, message: error.message };
      if (error.details && error.details.length > 0) body.details = error.details;
      outcomes.push({ index, reference: item.reference ?? null, status: 'rejected', error: body });
    }
  }
  return outcomes;
}

/** A refusal of this item (a client-side rule); anything else (a conflict, an outage, a bug) ends the batch. */
function isItemRejection(error: unknown): error is AppError {
  return error instanceof AppError && error.status >= 400 && error.status < 500;
}

/** One item: the recipient's rules, the source's balance, then one balanced movement. */
async function postItem(context: BatchContext, item: DisbursementItem, index: number): Promise<ItemOutcome> {
  const { transaction, tenantId, asset, source } = context;
  const prefix = `body.transfers.${index}.`;
  const recipient = requireRecipient(context.recipients, item.to_account_number, prefix);
  const amount = item.amount;
  if (source.purpose !== 'cash_in' && BigInt(amount) > context.sourceBalance) {
    throw new AppError('INSUFFICIENT_FUNDS', undefined, [
      { field: `${prefix}amount`, reason: `exceeds the balance of the ${source.purpose} account` },
    ]);
  }
  const walletId =
    recipient.walletId ?? (await ensureCustomerWallet(transaction, tenantId, recipient.userId, asset.code));
  const limits = limitsFor(context.services.money, recipient.kycTier, asset.code);
  const [sourceType, recipientType]: [EntryType, EntryType] =
    source.purpose === 'cash_in' ? ['topup', 'topup'] : ['transfer_out', 'transfer_in'];
  const movementId = uuidV7();
  const posted = await withItemFields(prefix, () =>
    postMovement(
      transaction,
      tenantId,
      movementId,
      [
        { walletId: source.id, delta: -amount, type: sourceType, counterpartyWalletId: walletId },
        {
          walletId,
          delta: amount,
          type: recipientType,
          counterpartyWalletId: source.id,
          description: item.description,
        },
      ],
      {
        beforeWrite: async (wallets) =>
          assertBalanceWithinLimit(limits, wallets.get(walletId)?.balance ?? 0, 'the recipient'),
      },
    ),
  );
  const credited = posted[1];
  assert.ok(credited, 'a disbursement posts the recipient entry second');
  context.sourceBalance -= BigInt(amount);
  // Opened by this item and committed with it: a later item to the same customer credits it.
  recipient.walletId = walletId;
  return {
    index,
    reference: item.reference ?? null,
    status: 'completed',
    transaction_id: movementId,
    entry_id: credited.id,
    type: recipientType,
    asset: asset.code,
    amount,
    to_account_number: item.to_account_number,
    user_id: recipient.userId,
    description: item.description ?? null,
    created_at: new Date().toISOString(),
  };
}

/** Recipients are active customers of the tenant; anyone else gets the answer a customer batch gives. */
function requireRecipient(
  recipients: ReadonlyMap<string, DisbursementRecipient>,
  accountNumber: string,
  prefix: string,
): DisbursementRecipient {
  const field = `${prefix}to_account_number`;
  const recipient = recipients.get(accountNumber);
  if (!recipient)
    throw new AppError('RECIPIENT_NOT_FOUND', undefined, [{ field, reason: 'matches no account' }]);
  if (recipient.role !== 'customer') {
    throw new AppError('SEGREGATION_OF_DUTIES', "Staff may not credit a staff member's account.", [
      { field, reason: 'belongs to a staff member' },
    ]);
  }
  if (recipient.status !== userStatus.active || recipient.deleted) {
    throw new AppError('RECIPIENT_BLOCKED', undefined, [{ field, reason: 'cannot receive money' }]);
  }
  return recipient;
}

/**
 * The ledger's rules name `body.amount`; in a batch the field is the item's. A refusal without a
 * field is given the item's amount, so every refusal names its item.
 */
async function withItemFields<T>(prefix: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!isItemRejection(error)) throw error;
    const details: ErrorDetail[] =
      error.details && error.details.length > 0
        ? error.details.map((detail) => ({
            ...detail,
            field: `${prefix}${(detail.field ?? 'body.amount').replace(/^body\./, '')}`,
          }))
        : [{ field: `${prefix}amount`, reason: error.message }];
    throw new AppError(error.code, error.message, details);
  }
}
