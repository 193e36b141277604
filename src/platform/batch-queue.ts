import assert from 'node:assert/strict';

/** What a writer does with one batch; it throws when the batch could not be written. */
export type BatchWriter<Entry> = (entries: Entry[]) => Promise<void>;

export interface BatchQueueOptions<Entry> {
  write: BatchWriter<Entry>;
  entriesMax: number;
  batchEntriesMax: number;
  flushIntervalMs: number;
  /** Called with the number of entries dropped (queue full, or a batch that failed and found no room). */
  onDrop?: (count: number, reason: 'queue_full' | 'write_failed' | 'closed') => void;
  onWritten?: (count: number) => void;
  onWriteError?: (error: unknown) => void;
  /** How long close() waits for the last writes; what is still unwritten then is dropped and counted. */
  closeWaitMs?: number;
  /**
   * True for a failure worth retrying as is (the database is unavailable). Any other failure is taken
   * to be a row the database refuses: the batch is split in halves and retried, so one such row is
   * isolated and dropped (counted) instead of failing its batch for ever. Absent: every failure retries.
   */
  isTransient?: (error: unknown) => boolean;
}

/**
 * A bounded queue written in batches in the background (the API access log and rate-limit violations, issue 10): a
 * request never waits on it and never fails because of it. At most one batch is in flight; when the
 * database is slow the queue fills to `entriesMax` and further entries are dropped and counted, so
 * memory stays bounded. A failed batch goes back to the front if there is room. `close()` writes
 * everything still queued (graceful shutdown loses nothing that was accepted).
 *
 * Hand-written rather than a job queue library: the entries live only in this process and a batch
 * INSERT is the whole job; a durable queue would cost a write per request, which is what batching avoids.
 */
const backoffMsMax = 30_000;

export class BatchQueue<Entry> {
  private entries: Entry[] = [];
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private lastFailed = false;
  private backoffMs = 0;
  private inFlightSize = 0;
  /** close() gave up waiting: later entries are refused and counted. */
  private deadlinePassed = false;
  /** After a refused batch: the size of the next (half) batch. */
  private splitNext: number | undefined;

  constructor(private readonly options: BatchQueueOptions<Entry>) {
    assert.ok(options.batchEntriesMax >= 1 && options.entriesMax >= options.batchEntriesMax);
  }

  get depth(): number {
    return this.entries.length;
  }

  /** Queues one entry; false when it was dropped because the queue is full. */
  push(entry: Entry): boolean {
    if (this.closed && this.deadlinePassed) {
      this.options.onDrop?.(1, 'closed');
      return false;
    }
    if (this.entries.length >= this.options.entriesMax) {
      this.options.onDrop?.(1, 'queue_full');
      return false;
    }
    this.entries.push(entry);
    if (this.entries.length >= this.options.batchEntriesMax) this.kick();
    else this.schedule();
    return true;
  }

  /** Writes everything queued now, batch after batch, and resolves when done (or failed and dropped). */
  async flush(): Promise<void> {
    this.cancelTimer();
    this.lastFailed = false;
    while (this.entries.length > 0 || this.inFlight) {
      if (this.inFlight) await this.inFlight;
      else await this.writeOne();
      // The database refused the batch: stop here; the timer retries (or close() drops and counts).
      if (this.lastFailed) return;
    }
  }

  /**
   * Stops the timer and writes what is queued, waiting at most closeWaitMs (a database that hangs or
   * is gone must not hold a shutdown); whatever is still unwritten then is dropped and counted.
   */
  async close(): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.closeWaitMs ?? 5000);
    });
    const flushed = this.flush().then(() => true);
    const finished = await Promise.race([flushed, deadline.then(() => false)]);
    clearTimeout(timer);
    if (!finished) {
      this.deadlinePassed = true;
      // A batch still in flight may yet land; it is counted as dropped, as it cannot be vouched for.
      if (this.inFlight) this.options.onDrop?.(this.inFlightSize, 'write_failed');
    }
    if (this.entries.length > 0) {
      this.options.onDrop?.(this.entries.length, 'write_failed');
      this.entries = [];
    }
  }

  private schedule(delayMs = this.options.flushIntervalMs): void {
    if (this.timer || this.inFlight) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, delayMs);
    this.timer.unref();
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private kick(): void {
    this.cancelTimer();
    if (this.inFlight || this.entries.length === 0) return;
    void this.writeOne();
  }

  private writeOne(): Promise<void> {
    const size = this.splitNext ?? this.options.batchEntriesMax;
    this.splitNext = undefined;
    const batch = this.entries.splice(0, size);
    this.inFlightSize = batch.length;
    const run = this.options
      .write(batch)
      .then(
        () => {
          this.lastFailed = false;
          this.backoffMs = 0;
          this.options.onWritten?.(batch.length);
        },
        (error: unknown) => {
          this.lastFailed = true;
          this.options.onWriteError?.(error);
          this.retry(batch, error);
        },
      )
      .finally(() => {
        this.inFlight = undefined;
        if (this.entries.length === 0 || this.closed) return;
        if (this.lastFailed) {
          // The database is unavailable: wait, doubling up to 30 s, rather than hammer it.
          this.backoffMs = Math.min(backoffMsMax, Math.max(this.options.flushIntervalMs, this.backoffMs * 2));
          this.schedule(this.backoffMs);
        } else if (this.splitNext !== undefined || this.entries.length >= this.options.batchEntriesMax)
          this.kick();
        else this.schedule();
      });
    this.inFlight = run;
    return run;
  }

  private retry(batch: Entry[], error: unknown): void {
    const transient = this.options.isTransient?.(error) ?? true;
    if (transient) {
      this.requeue(batch);
      return;
    }
    if (batch.length === 1) {
      this.options.onDrop?.(1, 'write_failed');
      return;
    }
    // A refused row: halves go back to the front and are written one after the other, at once.
    this.lastFailed = false;
    this.requeue(batch);
    this.splitNext = Math.ceil(batch.length / 2);
  }

  private requeue(batch: Entry[]): void {
    // After close() gave up, the in-flight batch was already counted as dropped.
    if (this.deadlinePassed) return;
    const room = this.options.entriesMax - this.entries.length;
    const kept = batch.slice(0, Math.max(0, room));
    if (kept.length < batch.length) this.options.onDrop?.(batch.length - kept.length, 'write_failed');
    this.entries = [...kept, ...this.entries];
  }
}
