import closeWithGrace from 'close-with-grace';
import type { Command } from 'commander';
import { type Config, workerCountMax, workerCountMin } from '../../config/config.ts';
import { createLogger } from '../../platform/logger.ts';
import { type RunningServer, startServer } from '../../server.ts';
import { currentWorkerSlot, runClusterPrimary, type WorkerListening } from '../../server-cluster.ts';
import { CliError, type CliRuntime } from '../runtime.ts';

export function registerServeCommand(program: Command, runtime: CliRuntime): void {
  program
    .command('serve')
    .description('serve the HTTP API (migrates and seeds the embedded database in development)')
    .option(
      '--workers <count>',
      `processes serving the one port, ${workerCountMin}-${workerCountMax} (default: WEB_CONCURRENCY, else 1); more than one needs DATABASE_URL`,
    )
    .action(async (options: { workers?: string }) => {
      const config = runtime.config();
      const slot = currentWorkerSlot();
      if (slot !== undefined) return serveAsWorker(config, slot);
      const workerCount = readWorkerCount(options.workers, config);
      if (workerCount > 1) return runClusterPrimary(config, createLogger(config), workerCount);
      return serveAlone(config);
    });
}

/** `--workers` wins over WEB_CONCURRENCY (already bounded by loadConfig); the embedded engine is one process. */
function readWorkerCount(option: string | undefined, config: Config): number {
  let workerCount = config.workerCount;
  if (option !== undefined) {
    workerCount = /^\d{1,3}$/.test(option) ? Number(option) : Number.NaN;
    if (!(workerCount >= workerCountMin && workerCount <= workerCountMax)) {
      const shown = JSON.stringify(option.slice(0, 20));
      throw new CliError(
        `--workers must be a whole number from ${workerCountMin} to ${workerCountMax}, got ${shown}`,
        2,
      );
    }
  }
  if (workerCount > 1 && !config.databaseUrl) {
    throw new CliError(
      `--workers ${workerCount} needs DATABASE_URL: the embedded PGlite engine is one process's database (serve it with one worker)`,
      2,
    );
  }
  return workerCount;
}

async function serveAlone(config: Config): Promise<void> {
  const logger = createLogger(config);
  const server = await startServer(config, logger);
  // On SIGINT/SIGTERM: drain in-flight requests, stop jobs, close the database; force-exit after the grace period.
  closeWithGrace({ delay: config.shutdownGraceMs }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an uncaught error');
    else logger.info({ signal }, 'shutting down');
    await server.close();
  });
}

/**
 * One worker of `serve --workers`: worker 1 runs the jobs and the seed; the primary prepared the
 * database. A signal is handled once, whoever sends it: a terminal's Ctrl+C reaches the primary and
 * every worker, and the primary forwards SIGTERM too; close-with-grace would take the second signal
 * as "exit now" and cut the drain short.
 */
async function serveAsWorker(config: Config, slot: number): Promise<void> {
  const logger = createLogger(config).child({ worker: slot });
  let server: RunningServer;
  try {
    server = await startServer(config, logger, { prepareDatabase: false, backgroundJobs: slot === 1 });
  } catch (error) {
    // The channel to the primary would keep a worker that failed to start alive (a taken port did):
    // released, the worker exits with the CLI's one line, and the primary sees it.
    process.channel?.unref();
    throw error;
  }
  const listening: WorkerListening = { type: 'corebank:listening', address: server.address };
  process.send?.(listening);
  const graceful = closeWithGrace(
    { delay: config.shutdownGraceMs, skip: ['SIGINT', 'SIGTERM'] },
    async ({ err }) => {
      if (err) logger.error({ err }, 'shutting down after an uncaught error');
      await server.close();
    },
  );
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    void graceful.close();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}
