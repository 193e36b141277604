import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ConfigurationError } from '../config/config.ts';
import { databaseUnavailable } from '../db/database-errors.ts';
import { registerAuditCommands } from './commands/audit.command.ts';
import { registerBackupCommands } from './commands/backup.command.ts';
import { registerDatabaseCommands } from './commands/database.command.ts';
import { registerLedgerCommands } from './commands/ledger.command.ts';
import { registerReportCommands } from './commands/report.command.ts';
import { registerRetentionCommands } from './commands/retention.command.ts';
import { registerServeCommand } from './commands/serve.command.ts';
import { CliError, type CliRuntime, createRuntime } from './runtime.ts';

/**
 * The version in package.json. Found by walking up from this module, which runs from src/cli (tsx)
 * or dist/src/cli (compiled), so no fixed relative path fits both.
 */
export function packageVersion(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth += 1) {
    const candidate = join(directory, 'package.json');
    if (existsSync(candidate)) {
      const manifest = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'corebank' && manifest.version) return manifest.version;
    }
    directory = dirname(directory);
  }
  return 'unknown';
}

export function buildProgram(runtime: CliRuntime): Command {
  const program = new Command('corebank')
    .description('Corebank: multi-tenant banking backend — server, database and audit tooling')
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerServeCommand(program, runtime);
  const database = program
    .command('db')
    .description('migrate, inspect, seed, back up and restore the database');
  registerDatabaseCommands(database, runtime);
  registerBackupCommands(database, runtime);
  registerAuditCommands(program, runtime);
  registerLedgerCommands(program, runtime);
  registerRetentionCommands(program, runtime);
  registerReportCommands(program, runtime);
  return program;
}

/** Turns any failure into one line on stderr and a non-zero exit code; never a stack trace. */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram(createRuntime());
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 || error.code === 'commander.helpDisplayed' ? 0 : error.exitCode || 2;
    }
    process.stderr.write(`corebank: ${describe(error)}\n`);
    return error instanceof CliError ? error.exitCode : 1;
  }
}

function describe(error: unknown): string {
  if (error instanceof CliError || error instanceof ConfigurationError) return error.message;
  const unavailable = databaseUnavailable(error);
  if (unavailable) {
    const cause = unavailable.errno ?? unavailable.sqlstate ?? unavailable.reason;
    return `cannot reach the database (${cause}); check DATABASE_URL and that the server is running`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? 'unknown error';
}
