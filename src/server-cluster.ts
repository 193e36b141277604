import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { Config } from './config/config.ts';
import { prepareDatabaseForServing } from './server.ts';

/**
 * `corebank serve --workers N`: one primary process and N workers that share the port (node:cluster;
 * the primary accepts connections and hands them round-robin to the workers).
 *
 * - The primary applies the start-up policy (migrations, default tenant, permissions, partitions) once,
 *   before it forks: the workers never migrate, and a refused start (pending migrations in production)
 *   stops the command with one line instead of becoming N restart loops.
 * - Worker 1 alone runs the background jobs and the development seed; a replacement of worker 1 takes
 *   them over. Jobs that must not overlap across processes lock in the database (the audit sealer's
 *   advisory lock), so a second server machine is safe too.
 * - A worker that dies is replaced after a back-off (1 s doubling to 30 s, reset once a worker has
 *   served a minute), and logged. A worker that dies before the first one ever listened means the
 *   start itself fails (a taken port): the primary stops every worker and exits 1.
 * - SIGTERM or SIGINT to the primary: every worker drains and closes like a single server; the primary
 *   exits once all are gone, or kills what is left after SHUTDOWN_GRACE_MS and a margin.
 */
export const workerSlotVariable = 'COREBANK_WORKER_SLOT';

/** The worker's own message to the primary once it listens. */
export interface WorkerListening {
  type: 'corebank:listening';
  address: string;
}

const restartDelayMsMin = 1000;
const restartDelayMsMax = 30_000;
/** A worker that served this long resets its slot's back-off: its death is not a crash loop. */
const healthyUptimeMs = 60_000;
/** The primary waits this much longer than a worker's own grace before it kills what is left. */
const shutdownMarginMs = 2000;

interface Slot {
  number: number;
  worker: Worker | undefined;
  startedAt: number;
  consecutiveFailures: number;
  restartTimer: NodeJS.Timeout | undefined;
}

/** The worker slot this process serves (1..N), or undefined when it is not a worker of the cluster. */
export function currentWorkerSlot(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const slot = Number(process.env[workerSlotVariable]);
  return Number.isSafeInteger(slot) && slot >= 1 ? slot : undefined;
}

export async function runClusterPrimary(config: Config, logger: Logger, workerCount: number): Promise<void> {
  await prepareDatabaseForServing(config, logger);
  const supervisor = new ClusterSupervisor(config, logger, workerCount);
  supervisor.start();
  const stop = (signal: NodeJS.Signals) => supervisor.shutdown(signal, 0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

class ClusterSupervisor {
  private readonly slots: Slot[];
  private shuttingDown = false;
  private anyListened = false;
  private readonly listeningSlots = new Set<number>();

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    workerCount: number,
  ) {
    this.slots = Array.from({ length: workerCount }, (_unused, index) => ({
      number: index + 1,
      worker: undefined,
      startedAt: 0,
      consecutiveFailures: 0,
      restartTimer: undefined,
    }));
  }

  start(): void {
    for (const slot of this.slots) this.fork(slot);
  }

  private fork(slot: Slot): void {
    slot.restartTimer = undefined;
    slot.startedAt = Date.now();
    const worker = cluster.fork({ [workerSlotVariable]: String(slot.number) });
    slot.worker = worker;
    worker.on('message', (message: Partial<WorkerListening>) => {
      if (message?.type === 'corebank:listening') this.onListening(slot, String(message.address));
    });
    worker.on('exit', (code: number | null, signal: string | null) =>
      this.onExit(slot, worker, code, signal),
    );
  }

  private onListening(slot: Slot, address: string): void {
    this.anyListened = true;
    this.listeningSlots.add(slot.number);
    if (this.listeningSlots.size === this.slots.length) {
      this.logger.info({ address, workers: this.slots.length }, 'corebank workers listening');
    }
  }

  private onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    this.listeningSlots.delete(slot.number);
    if (this.shuttingDown) {
      if (this.slots.every((each) => each.worker === undefined)) process.exit(this.exitCode);
      return;
    }
    const fields = { worker: slot.number, workerPid: worker.process.pid, code, signal };
    if (!this.anyListened) {
      this.logger.error(fields, 'a worker failed to start; stopping the other workers');
      this.shutdown('start failure', 1);
      return;
    }
    const uptimeMs = Date.now() - slot.startedAt;
    slot.consecutiveFailures = uptimeMs >= healthyUptimeMs ? 1 : slot.consecutiveFailures + 1;
    const delayMs = Math.min(restartDelayMsMax, restartDelayMsMin * 2 ** (slot.consecutiveFailures - 1));
    this.logger.error({ ...fields, uptimeMs, restartInMs: delayMs }, 'worker exited; restarting it');
    slot.restartTimer = setTimeout(() => this.fork(slot), delayMs);
  }

  private exitCode = 0;

  shutdown(reason: string, exitCode: number): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.exitCode = exitCode;
    this.logger.info({ reason, workers: this.slots.length }, 'shutting down the workers');
    for (const slot of this.slots) {
      if (slot.restartTimer) clearTimeout(slot.restartTimer);
      // A worker treats a repeated signal (a terminal's SIGINT reaches the whole group) as the same one.
      slot.worker?.process.kill('SIGTERM');
    }
    if (this.slots.every((slot) => slot.worker === undefined)) process.exit(exitCode);
    const limit = setTimeout(() => {
      for (const slot of this.slots) slot.worker?.process.kill('SIGKILL');
      this.logger.error(
        { graceMs: this.config.shutdownGraceMs },
        'workers did not stop in time; killed them',
      );
      process.exit(1);
    }, this.config.shutdownGraceMs + shutdownMarginMs);
    limit.unref();
  }
}
