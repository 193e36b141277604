import { type Config, loadConfig } from '../config/config.ts';
import { type DatabaseHandle, openDatabase } from '../db/database.ts';

/** What every CLI command needs: the validated configuration and a way to open the database. */
export interface CliRuntime {
  config(): Config;
  openDatabase(): Promise<DatabaseHandle>;
}

export function createRuntime(environment: Record<string, string | undefined> = process.env): CliRuntime {
  let cached: Config | undefined;
  const config = () => {
    cached ??= loadConfig(environment);
    return cached;
  };
  return {
    config,
    openDatabase: () =>
      openDatabase({
        databaseUrl: config().databaseUrl,
        dataDirectory: config().dataDirectory,
        poolMax: 4,
        applicationName: 'corebank-cli',
      }),
  };
}

/** A failure the CLI reports as one line and exits non-zero with; the message says what to do. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
