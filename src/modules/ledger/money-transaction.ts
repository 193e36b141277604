import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { type Scope, type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { AppError } from '../../platform/errors.ts';

/** PostgreSQL's serialization_failure and deadlock_detected: the transaction did nothing; run it again. */
const retryableSqlStates = new Set(['40001', '40P01']);

const backoffBaseMs = 2;
const backoffMaxMs = 100;

/**
 * How many money transactions one process runs at once, and how long a request may queue for a turn.
 * A thousand requests for one hot wallet would otherwise all take a pooled connection and wait on the
 * wallet's row lock, leaving none for anything else and timing out in the pool (a 500). Queued here,
 * they wait in memory in arrival order and the connections keep serving; fewer concurrent lockers of
 * one row also waste less time in lock handoffs.
 */
export const moneyTransactionsConcurrentMax = 8;
export const moneyTransactionQueueWaitMsMax = 30_000;

class Semaphore {
  private available: number;
  private readonly waiting: (() => void)[] = [];

  constructor(permits: number) {
    this.available = permits;
  }

  async acquire(waitMsMax: number): Promise<void> {
    if (this.available > 0) {
      this.available -= 1;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const grant = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const index = this.waiting.indexOf(grant);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(new AppError('TRANSACTION_CONFLICT'));
      }, waitMsMax);
      this.waiting.push(grant);
    });
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.available += 1;
  }
}

// One gate per database handle: each has its own connection pool.
const gates = new WeakMap<object, Semaphore>();

function gateFor(db: Kysely<Database>): Semaphore {
  let gate = gates.get(db);
  if (!gate) {
    gate = new Semaphore(moneyTransactionsConcurrentMax);
    gates.set(db, gate);
  }
  return gate;
}

export function isRetryableConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && retryableSqlStates.has(code);
}

/** node-postgres gives up waiting for a pooled connection with this message: busy, not broken. */
function isPoolTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === 'timeout exceeded when trying to connect';
}

/**
 * Runs one money transaction in the caller's scope and runs it again, a bounded number of times,
 * when PostgreSQL aborts it for a serialization failure or a deadlock. Such an abort rolled everything
 * back, so the retry cannot apply anything twice. When the attempts run out the client gets a 503 it
 * may retry with the same Idempotency-Key, never a 500.
 */
export async function withMoneyTransaction<T>(
  db: Kysely<Database>,
  scope: Scope,
  attemptsMax: number,
  work: (transaction: ScopedTransaction) => Promise<T>,
): Promise<T> {
  const gate = gateFor(db);
  await gate.acquire(moneyTransactionQueueWaitMsMax);
  try {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await withScope(db, scope, work);
      } catch (error) {
        if (isPoolTimeout(error)) throw new AppError('TRANSACTION_CONFLICT');
        if (!isRetryableConflict(error)) throw error;
        if (attempt >= attemptsMax) throw new AppError('TRANSACTION_CONFLICT');
        // Full jitter keeps the retries of colliding transactions from colliding again in step.
        const ceilingMs = Math.min(backoffMaxMs, backoffBaseMs * 2 ** attempt);
        await sleep(Math.random() * ceilingMs);
      }
    }
  } finally {
    gate.release();
  }
}
