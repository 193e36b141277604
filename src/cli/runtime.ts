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
        // Bounded connecting (a partition fails the command instead of hanging it); no statement
        // timeout: a backup or a ledger check over a big database may take long.
        acquireTimeoutMs: config().databaseAcquireTimeoutMs,
        applicationName: 'corebank-cli',
        holder: commandLine(),
      }),
  };
}

/** `corebank db seed`: the words of the command, without its options, for the data-directory lock. */
function commandLine(): string {
  const words = process.argv.slice(2).filter((word) => !word.startsWith('-'));
  return ['corebank', ...words.slice(0, 2)].join(' ');
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
