import { Command, CommanderError } from 'commander';
import { ConfigurationError } from '../config/config.ts';
import { registerAuditCommands } from './commands/audit.command.ts';
import { registerBackupCommands } from './commands/backup.command.ts';
import { registerDatabaseCommands } from './commands/database.command.ts';
import { registerLedgerCommands } from './commands/ledger.command.ts';
import { registerServeCommand } from './commands/serve.command.ts';
import { CliError, type CliRuntime, createRuntime } from './runtime.ts';

export function buildProgram(runtime: CliRuntime): Command {
  const program = new Command('corebank')
    .description('Corebank: multi-tenant banking backend — server, database and audit tooling')
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
  const code = (error as { code?: string }).code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT') {
    return `cannot reach the database (${code}); check DATABASE_URL and that the server is running`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? 'unknown error';
}
