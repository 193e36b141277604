import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { databaseUnavailable } from '../../db/database-errors.ts';
import { AppError } from '../../platform/errors.ts';
import { isRetryableConflict } from './money-transaction.ts';

/** How the group committer gathers and bounds its work; every value is configuration with bounds. */
export interface GroupCommitOptions {
  /** 0: a group leaves as soon as a slot is free; more waits up to this long to gather a larger one. */
  windowMs: number;
  /** Requests per group (one database call); a batch request counts as one. */
  requestsPerGroupMax: number;
  /** Groups in flight at once (database connections the committer may hold). */
  groupsInFlightMax: number;
  /** Requests waiting for a group; beyond it a request is refused at once (503 TRANSACTION_CONFLICT). */
  queuedRequestsMax: number;
  /** A request that waited this long for a group is refused (503), so every answer comes in time. */
  queueWaitMsMax: number;
  /** Attempts of a group that PostgreSQL aborted for a serialization failure or a deadlock. */
  attemptsMax: number;
}

export interface GroupCommitStatistics {
  groups: number;
  requests: number;
  largestGroup: number;
  retries: number;
  splits: number;
}

interface Pending<R, T> {
  request: R;
  resolve: (result: T) => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
  settled: boolean;
}

/** Posts one group of one key's requests in one database call; a result per request, in order. */
export type GroupPoster<R, T> = (key: string, requests: readonly R[]) => Promise<T[]>;

/**
 * Group commit: concurrent requests of one process are gathered into groups, and each group is posted
 * in one database transaction by one call. Requests are grouped by key (the tenant), queued in arrival
 * order and posted in that order within a group. While every slot is busy the queue grows, so the
 * groups grow with the load: one request alone waits for nothing, a thousand at once share a few
 * transactions. A group that fails for anything but a conflict is split and each request posted
 * alone, so one request's failure is never another's; a conflict (40001, 40P01) rolled the whole group
 * back and it runs again, a bounded number of times. Hand-written: no maintained library batches
 * promises into a database call with per-request results, ordering and these bounds.
 */
export class GroupCommitter<R, T> {
  private readonly queues = new Map<string, Pending<R, T>[]>();
  private queued = 0;
  private inFlight = 0;
  private windowTimer: NodeJS.Timeout | undefined;
  private readonly idleWaiters: (() => void)[] = [];
  readonly statistics: GroupCommitStatistics = {
    groups: 0,
    requests: 0,
    largestGroup: 0,
    retries: 0,
    splits: 0,
  };

  constructor(
    private readonly post: GroupPoster<R, T>,
    private readonly options: GroupCommitOptions,
  ) {
    assert.ok(options.requestsPerGroupMax >= 1 && options.groupsInFlightMax >= 1);
  }

  submit(key: string, request: R): Promise<T> {
    if (this.queued >= this.options.queuedRequestsMax)
      return Promise.reject(new AppError('TRANSACTION_CONFLICT'));
    return new Promise<T>((resolve, reject) => {
      const pending: Pending<R, T> = { request, resolve, reject, settled: false, timer: undefined as never };
      pending.timer = setTimeout(() => this.expire(key, pending), this.options.queueWaitMsMax);
      const queue = this.queues.get(key) ?? [];
      queue.push(pending);
      this.queues.set(key, queue);
      this.queued += 1;
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or in flight (graceful shutdown). */
  drained(): Promise<void> {
    if (this.queued === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private expire(key: string, pending: Pending<R, T>): void {
    const queue = this.queues.get(key);
    const index = queue?.indexOf(pending) ?? -1;
    if (!queue || index < 0) return;
    queue.splice(index, 1);
    if (queue.length === 0) this.queues.delete(key);
    this.queued -= 1;
    this.settle(pending, () => pending.reject(new AppError('TRANSACTION_CONFLICT')));
    this.notifyIfIdle();
  }

  private notifyIfIdle(): void {
    if (this.queued === 0 && this.inFlight === 0) for (const waiter of this.idleWaiters.splice(0)) waiter();
  }

  private schedule(): void {
    if (this.options.windowMs > 0) {
      this.windowTimer ??= setTimeout(() => {
        this.windowTimer = undefined;
        this.flush();
      }, this.options.windowMs);
      return;
    }
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    while (this.inFlight < this.options.groupsInFlightMax && this.queued > 0) {
      const [key, queue] = this.queues.entries().next().value as [string, Pending<R, T>[]];
      const group = queue.splice(0, this.options.requestsPerGroupMax);
      // The key goes to the back of the line, so one busy tenant cannot starve another.
      this.queues.delete(key);
      if (queue.length > 0) this.queues.set(key, queue);
      this.queued -= group.length;
      for (const pending of group) clearTimeout(pending.timer);
      this.inFlight += 1;
      void this.run(key, group).finally(() => {
        this.inFlight -= 1;
        if (this.queued > 0) this.flush();
        else this.notifyIfIdle();
      });
    }
  }

  private async run(key: string, group: Pending<R, T>[]): Promise<void> {
    this.statistics.groups += 1;
    this.statistics.requests += group.length;
    this.statistics.largestGroup = Math.max(this.statistics.largestGroup, group.length);
    try {
      const results = await this.postWithRetries(
        key,
        group.map((pending) => pending.request),
      );
      group.forEach((pending, index) => {
        this.settle(pending, () => pending.resolve(results[index] as T));
      });
    } catch (error) {
      // Split only for a failure one request may have caused: a refused or silent database fails
      // every request alike, and posting each alone would only multiply the wait.
      if (group.length === 1 || error instanceof AppError || databaseUnavailable(error)) {
        for (const pending of group) this.settle(pending, () => pending.reject(error));
        return;
      }
      // Something in the group failed the whole call: post each alone, so it fails only its own.
      this.statistics.splits += 1;
      await Promise.all(group.map((pending) => this.run(key, [pending])));
    }
  }

  private async postWithRetries(key: string, requests: readonly R[]): Promise<T[]> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.post(key, requests);
      } catch (error) {
        if (!isRetryableConflict(error)) throw error;
        if (attempt >= this.options.attemptsMax) throw new AppError('TRANSACTION_CONFLICT');
        this.statistics.retries += 1;
        await sleep(Math.random() * Math.min(100, 2 * 2 ** attempt));
      }
    }
  }

  private settle(pending: Pending<R, T>, action: () => void): void {
    if (pending.settled) return;
    pending.settled = true;
    action();
  }
}
