import assert from 'node:assert/strict';
import type { Scope, ScopedTransaction } from '../../db/tenant-transaction.ts';
import { type AuditContext, type AuditEntry, recordAudit } from '../../platform/audit/audit-trail.ts';
import { AppError } from '../../platform/errors.ts';
import { claimKey, type KeyClaim, storeResponse } from './idempotency.repository.ts';
import {
  isStorableRejection,
  type MoneyResponse,
  rejectionResponse,
  replayOrThrow,
  requestHash,
} from './idempotency.ts';
import {
  changeLockedFunds,
  type EntryRequest,
  type PostedEntry,
  type PostingOptions,
  postMovement,
} from './ledger-posting.ts';
import type { MoneyServices } from './money-services.ts';
import { withMoneyTransaction } from './money-transaction.ts';

/**
 * The posting engine: the one writer of balances, ledger entries and idempotency keys. A feature
 * describes its movement as a Posting and the engine runs it in one money transaction — the key
 * claimed (or its stored response replayed), the audit row, the wallets locked in id order, the
 * feature's checks under the lock, the write, the feature's own rows, the response stored under the
 * key — committing all of it together or none of it. Transfers and batches take the other way through
 * the engine: one statement per group (transfer-engine.ts, corebank_transfer_group in migration 0010).
 */

/** What a posting changes: a balanced movement of entries, or a wallet's locked amount (a hold). */
export type BalanceChange =
  | { kind: 'movement'; movementId: string; entries: readonly EntryRequest[] }
  | { kind: 'lock' | 'unlock'; walletId: string; amount: number };

export interface Posting<Result> extends PostingOptions {
  /** Absent: no balance changes (a request that waits for approval, a settled withdrawal skipped). */
  change?: BalanceChange | undefined;
  /** Written before the wallets are locked, so the hot wallets' locks are held for less. */
  audit?: { context: AuditContext; entry: AuditEntry } | undefined;
  /** The feature's own rows (a hold, an operation, a daily total) after the balances, in the same transaction. */
  afterWrite?: ((posted: readonly PostedEntry[]) => Promise<void>) | undefined;
  /** The answer, from the entries posted (none for a lock or unlock). */
  respond: (posted: readonly PostedEntry[]) => Result;
}

/** Reads and checks inside the money transaction, then says what to post. */
export type Describe<Result> = (transaction: ScopedTransaction) => Promise<Posting<Result>>;

export interface KeyedPosting {
  /** The caller: keys are scoped to them, so two users may use the same key. */
  callerId: string;
  /** Absent: the request is not deduplicated. */
  key: string | undefined;
  /** Method and route pattern; the same key on another endpoint is a different request. */
  endpoint: string;
  body: unknown;
  describe: Describe<MoneyResponse>;
}

/**
 * Posts a money request at most once per (tenant, caller, Idempotency-Key). The key row is claimed
 * inside the posting's own transaction: a racing duplicate blocks on the primary key until the first
 * commits and then replays its stored response; if the first rolls back, the duplicate runs. A
 * rejected request (insufficient funds, a limit) is stored too, so its retry gets the same answer.
 */
export async function post(
  services: MoneyServices,
  scope: Scope,
  request: KeyedPosting,
): Promise<MoneyResponse> {
  return postKeyed(services, scope, request, async (transaction) =>
    applyPosting(transaction, scope.tenantId, await request.describe(transaction)),
  );
}

/**
 * The keyed money transaction on its own, for a request that posts several movements in it (a staff
 * disbursement: one postMovement per item, each non-atomic item in a savepoint). The key row is
 * claimed inside the work's own transaction: a racing duplicate blocks on the primary key until the
 * first commits and then replays its stored response; if the first rolls back, the duplicate runs. A
 * rejected request (insufficient funds, a limit) is stored too, so its retry gets the same answer.
 */
export async function postKeyed(
  services: MoneyServices,
  scope: Scope,
  request: Omit<KeyedPosting, 'describe'>,
  work: (transaction: ScopedTransaction) => Promise<MoneyResponse>,
): Promise<MoneyResponse> {
  const attemptsMax = services.money.transactionAttemptsMax;
  if (request.key === undefined) return withMoneyTransaction(services.db, scope, attemptsMax, work);
  const claim: KeyClaim = {
    tenantId: scope.tenantId,
    callerId: request.callerId,
    key: request.key,
    endpoint: request.endpoint,
    hash: requestHash(request.endpoint, request.body),
    ttlHours: services.money.idempotencyKeyTtlHours,
  };
  let response: MoneyResponse;
  try {
    response = await withMoneyTransaction(services.db, scope, attemptsMax, async (transaction) => {
      const replay = await claimKey(transaction, claim);
      if (replay) return replay;
      const fresh = await work(transaction);
      await storeResponse(transaction, claim, fresh);
      return fresh;
    });
  } catch (error) {
    if (!(error instanceof AppError) || !isStorableRejection(error)) throw error;
    const stored = await withMoneyTransaction(services.db, scope, attemptsMax, async (transaction) => {
      const replay = await claimKey(transaction, claim);
      if (replay) return replay;
      const rejection = rejectionResponse(error);
      await storeResponse(transaction, claim, rejection);
      return rejection;
    });
    return replayOrThrow(stored);
  }
  return replayOrThrow(response);
}

/** Posts a request that has no Idempotency-Key (staff holds, the payout worker's settlement). */
export async function postWithoutKey<Result>(
  services: MoneyServices,
  scope: Scope,
  describe: Describe<Result>,
): Promise<Result> {
  return withMoneyTransaction(
    services.db,
    scope,
    services.money.transactionAttemptsMax,
    async (transaction) => applyPosting(transaction, scope.tenantId, await describe(transaction)),
  );
}

async function applyPosting<Result>(
  transaction: ScopedTransaction,
  tenantId: string,
  posting: Posting<Result>,
): Promise<Result> {
  const { change } = posting;
  assert.ok(
    change !== undefined || (posting.afterLock === undefined && posting.beforeWrite === undefined),
    'checks under the wallet lock need a balance change to lock the wallets',
  );
  if (posting.audit) await recordAudit(transaction, posting.audit.context, posting.audit.entry);
  let posted: PostedEntry[] = [];
  if (change?.kind === 'movement') {
    posted = await postMovement(transaction, tenantId, change.movementId, change.entries, posting);
  } else if (change) {
    assert.ok(Number.isSafeInteger(change.amount) && change.amount > 0, 'a hold locks a positive amount');
    const lockedDelta = change.kind === 'lock' ? change.amount : -change.amount;
    await changeLockedFunds(transaction, tenantId, change.walletId, lockedDelta, posting);
  }
  if (posting.afterWrite) await posting.afterWrite(posted);
  return posting.respond(posted);
}
