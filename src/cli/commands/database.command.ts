import type { Command } from 'commander';
import type { Config } from '../../config/config.ts';
import { readDatabaseStatus } from '../../db/database-status.ts';
import { migrateToLatest, readMigrationStatus, rollback } from '../../db/migrator.ts';
import { demoDataLines, seedDatabase } from '../../db/seed/seed.ts';
import { CliError, type CliRuntime } from '../runtime.ts';
import { withDatabase } from './with-database.ts';

export function registerDatabaseCommands(database: Command, runtime: CliRuntime): void {
  database
    .command('migrate')
    .description('apply every pending migration (one transaction, under an advisory lock)')
    .action(() =>
      withDatabase(runtime, async (handle) => {
        const applied = await migrateToLatest(handle.db);
        print(
          applied.length === 0 ? 'Already up to date.' : `Applied ${applied.length}: ${applied.join(', ')}`,
        );
      }),
    );

  database
    .command('rollback')
    .description('roll back the newest migration, or --steps N of them, or --all')
    .option('--steps <count>', 'how many migrations to roll back', '1')
    .option('--all', 'roll back every migration (drops all Corebank tables)')
    .action((options: { steps: string; all?: boolean }) =>
      withDatabase(runtime, async (handle) => {
        const steps = options.all ? 'all' : parseSteps(options.steps);
        const rolledBack = await rollback(handle.db, steps);
        print(rolledBack.length === 0 ? 'Nothing to roll back.' : `Rolled back: ${rolledBack.join(', ')}`);
      }),
    );

  database
    .command('status')
    .description('applied and pending migrations, engine, server version, size, tables, connections')
    .action(() =>
      withDatabase(runtime, async (handle) => print(formatStatus(await readDatabaseStatus(handle)))),
    );

  database
    .command('seed')
    .description('fill every table with development data (idempotent; refuses in production)')
    .option('--force', 'allow seeding when NODE_ENV=production')
    .action((options: { force?: boolean }) =>
      withDatabase(runtime, async (handle) => {
        const pending = (await readMigrationStatus(handle.db)).pending;
        if (pending.length > 0)
          throw new CliError(`${pending.length} migrations are pending; run \`corebank db migrate\` first`);
        const result = await seedDatabase(handle, runtime.config(), {
          force: options.force ?? false,
          onStep: (step) => process.stderr.write(`seeding ${step}…\n`),
        });
        print(
          result.seeded ? 'Seeded development data.' : 'The database is already seeded; nothing changed.',
        );
        const docsUrl = `${localAddress(runtime.config())}/docs (while \`corebank serve\` runs)`;
        for (const line of demoDataLines(result.credentials, docsUrl)) print(line);
      }),
    );
}

/** The address a browser on this machine reaches the configured server at. */
function localAddress(config: Config): string {
  const anyAddress = config.host === '0.0.0.0' || config.host === '::';
  const host = anyAddress ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port}`;
}

function parseSteps(raw: string): number {
  if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1)
    throw new CliError('--steps must be a whole number from 1 to 9999');
  return Number(raw);
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function formatStatus(status: Awaited<ReturnType<typeof readDatabaseStatus>>): string {
  const lines = [
    `engine:       ${status.engine} (${status.serverVersion})`,
    `database:     ${status.databaseName}, ${status.databaseSize}`,
    `connections:  ${status.connections}`,
    `migrations:   ${status.applied.length} applied, ${status.pending.length} pending`,
    ...status.applied.map(
      (migration) => `  applied  ${migration.name}  ${migration.executedAt.toISOString()}`,
    ),
    ...status.pending.map((name) => `  pending  ${name}`),
    'tables (estimated rows, total size):',
    ...status.tables.map(
      (table) => `  ${table.name.padEnd(32)} ${String(table.rowEstimate).padStart(10)}  ${table.totalSize}`,
    ),
    'partitions (estimated rows, total size, bounds):',
    ...status.partitions.map(
      (partition) =>
        `  ${partition.name.padEnd(32)} ${String(partition.rowEstimate).padStart(10)}  ${partition.totalSize.padEnd(10)} ${partition.bound}`,
    ),
  ];
  return lines.join('\n');
}
