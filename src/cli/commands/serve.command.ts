import closeWithGrace from 'close-with-grace';
import type { Command } from 'commander';
import { createLogger } from '../../platform/logger.ts';
import { startServer } from '../../server.ts';
import type { CliRuntime } from '../runtime.ts';

export function registerServeCommand(program: Command, runtime: CliRuntime): void {
  program
    .command('serve')
    .description('serve the HTTP API (migrates and seeds the embedded database in development)')
    .action(async () => {
      const config = runtime.config();
      const logger = createLogger(config);
      const server = await startServer(config, logger);
      // On SIGINT/SIGTERM: drain in-flight requests, stop jobs, close the database; force-exit after the grace period.
      closeWithGrace({ delay: config.shutdownGraceMs }, async ({ signal, err }) => {
        if (err) logger.error({ err }, 'shutting down after an uncaught error');
        else logger.info({ signal }, 'shutting down');
        await server.close();
      });
    });
}
