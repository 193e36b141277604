import { sql } from 'kysely';
import type { Logger } from 'pino';
import { type AppInstance, buildApp } from './app.ts';
import type { Config } from './config/config.ts';
import { warnRenamedVariables, warnRetiredVariables } from './config/renamed-variables.ts';
import { type DatabaseHandle, openDatabase } from './db/database.ts';
import { migrateToLatest, readMigrationStatus } from './db/migrator.ts';
import { demoDataLines, ensureTenant, seedDatabase } from './db/seed/seed.ts';
import { moneyJobs } from './jobs/money-jobs.ts';
import { alertJobs } from './modules/alerts/alerts.jobs.ts';
import { backupJobs } from './modules/backup/backup.jobs.ts';
import { complianceJobs } from './modules/compliance/compliance.jobs.ts';
import { dataExportJobs } from './modules/data-exports/data-exports.jobs.ts';
import { detectionJobs } from './modules/detection/detection.jobs.ts';
import { retentionJobs } from './modules/retention/retention.jobs.ts';
import { identityJobs } from './modules/sessions/sessions.jobs.ts';
import { auditCheckpointJobs } from './platform/audit/audit-checkpoint.jobs.ts';
import { sealPendingAudits } from './platform/audit/audit-sealer.ts';
import { withPersistedDevelopmentSigningKey } from './platform/auth/development-signing-key.ts';
import { syncRolePermissions } from './platform/auth/role-permission-sync.ts';
import { type AdminListener, listenAdminPort, needsAdminListener } from './platform/exposure.ts';
import { createLogger } from './platform/logger.ts';
import type { AppMetrics } from './platform/metrics.ts';
import { type ScheduledJob, type Scheduler, startScheduler } from './platform/scheduler.ts';

export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

export interface RunningServer {
  app: AppInstance;
  database: DatabaseHandle;
  address: string;
  /** The admin listener's address, when docs or metrics are exposed on ADMIN_PORT. */
  adminAddress: string | undefined;
  close(): Promise<void>;
}

const partitionMaintenanceIntervalMs = 6 * 3600_000;

/** What one process of the server does besides answering requests (`serve --workers` splits them). */
export interface ServerRole {
  /**
   * Apply the start-up policy to the database (migrations, default tenant, permissions, partitions);
   * false: only refuse to start while migrations are pending, because another process prepared it.
   */
  prepareDatabase: boolean;
  /** Run the background jobs and the development seed; exactly one process of a cluster does. */
  backgroundJobs: boolean;
}

const singleProcess: ServerRole = { prepareDatabase: true, backgroundJobs: true };

/**
 * Opens the database, applies the migration policy (development migrates on start; production refuses
 * to start with pending migrations unless MIGRATE_ON_START=true, seed 002), prepares partitions,
 * starts the background jobs and listens.
 */
export async function startServer(
  configured: Config,
  logger: Logger = createLogger(configured),
  role: ServerRole = singleProcess,
): Promise<RunningServer> {
  // Once per start: a cluster's primary warns in prepareDatabaseForServing, its workers stay quiet.
  if (role.prepareDatabase) {
    warnRenamedVariables(configured.renamedVariablesUsed, logger);
    warnRetiredVariables(configured.retention, logger);
  }
  const database = await openDatabase({
    databaseUrl: configured.databaseUrl,
    dataDirectory: configured.dataDirectory,
    poolMax: configured.databasePoolMax,
    acquireTimeoutMs: configured.databaseAcquireTimeoutMs,
    // Every query a request waits on ends before the request would (config.ts checks the bounds).
    statementTimeoutMs: configured.databaseStatementTimeoutMs,
    queryTimeoutMs: configured.databaseQueryTimeoutMs,
    logger,
    holder: 'corebank serve',
  });
  let config: Config;
  try {
    if (role.prepareDatabase) await prepareDatabase(database, configured, logger);
    else await refusePendingMigrations(database);
    // A development server signs with the key persisted under DATA_DIR, so tokens outlive the
    // process; taken once the database answers, so a start that fails writes nothing there.
    config = withPersistedDevelopmentSigningKey(configured);
  } catch (error) {
    await database.close();
    throw error;
  }
  const app = await buildApp({ config, database, logger });
  const scheduler = role.backgroundJobs
    ? startBackgroundJobs(database, config, logger, app.metrics, detectionJobs(app))
    : startScheduler([], logger);
  let address: string;
  let admin: AdminListener | undefined;
  try {
    address = await app.listen({ host: config.host, port: config.port });
    // DOCS_EXPOSURE / METRICS_EXPOSURE=admin-port: those routes answer only on this second listener.
    if (needsAdminListener(config.exposure)) admin = await listenAdminPort(app, config.exposure);
  } catch (error) {
    await app.close();
    await scheduler.stop();
    await database.close();
    throw error;
  }
  logger.info(
    { address, adminAddress: admin?.address, engine: database.engine, environment: config.environment },
    'corebank listening',
  );
  // The development seed is not needed to be ready: it runs once the server already answers, and
  // shutdown waits for it so the database never closes under it.
  const seeding =
    config.seedOnStart && role.backgroundJobs
      ? seedDevelopmentData(database, config, logger, `${address}/docs`)
      : Promise.resolve();
  const close = async () => {
    // Stop accepting work and drain in-flight requests first; the database closes last.
    await admin?.close();
    await app.close();
    await seeding;
    await scheduler.stop();
    await database.close();
  };
  return { app, database, address, adminAddress: admin?.address, close };
}

/**
 * The start-up policy alone, on a connection of its own: what the primary of `serve --workers` does
 * once before it forks, so N workers neither migrate nor seed, and a refused start (pending
 * migrations in production) stops the command instead of becoming N restart loops.
 */
export async function prepareDatabaseForServing(config: Config, logger: Logger): Promise<void> {
  warnRenamedVariables(config.renamedVariablesUsed, logger);
  warnRetiredVariables(config.retention, logger);
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDirectory: config.dataDirectory,
    poolMax: 1,
    acquireTimeoutMs: config.databaseAcquireTimeoutMs,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
    queryTimeoutMs: config.databaseQueryTimeoutMs,
    logger,
    applicationName: 'corebank-serve-primary',
    holder: 'corebank serve',
  });
  try {
    await prepareDatabase(database, config, logger);
  } finally {
    await database.close();
  }
}

function pendingMigrationsError(pending: readonly string[]): StartupError {
  return new StartupError(
    `${pending.length} database migrations are pending (${pending.join(', ')}); run \`corebank db migrate\` or set MIGRATE_ON_START=true`,
  );
}

async function refusePendingMigrations(database: DatabaseHandle): Promise<void> {
  const { pending } = await readMigrationStatus(database.db);
  if (pending.length > 0) throw pendingMigrationsError(pending);
}

async function prepareDatabase(database: DatabaseHandle, config: Config, logger: Logger): Promise<void> {
  const { pending } = await readMigrationStatus(database.db);
  if (pending.length > 0) {
    if (!config.migrateOnStart) throw pendingMigrationsError(pending);
    const applied = await migrateWithoutStatementTimeout(database, config);
    logger.info({ applied }, 'applied pending migrations');
  }
  await ensureTenant(database, config.defaultTenantSlug);
  await syncRolePermissions(database);
  await sql`select corebank_ensure_monthly_partitions(${config.partitionMonthsAhead})`.execute(database.db);
}

/**
 * A migration may rewrite a big table for longer than the statement timeout that bounds requests, so
 * on a server it runs on a connection of its own without one (PGlite has a single connection and no
 * such timeout).
 */
async function migrateWithoutStatementTimeout(database: DatabaseHandle, config: Config): Promise<string[]> {
  if (database.engine !== 'postgres') return migrateToLatest(database.db);
  const migrating = await openDatabase({
    databaseUrl: config.databaseUrl,
    poolMax: 1,
    acquireTimeoutMs: config.databaseAcquireTimeoutMs,
    applicationName: 'corebank-migrate',
  });
  try {
    return await migrateToLatest(migrating.db);
  } finally {
    await migrating.close();
  }
}

async function seedDevelopmentData(
  database: DatabaseHandle,
  config: Config,
  logger: Logger,
  docsUrl: string,
): Promise<void> {
  try {
    const result = await seedDatabase(database, config);
    if (!result.seeded) {
      logger.info(
        { docs: docsUrl },
        'development data already seeded; `npx corebank db seed` prints the demo credentials',
      );
      return;
    }
    logger.info({ docs: docsUrl }, 'seeded development data; the demo credentials follow on stderr');
    // For the developer at the terminal, outside the log stream: these logins are fixed development
    // values, but a log line is no place for a password or a PIN (the logger would redact them anyway).
    process.stderr.write(`${demoDataLines(result.credentials, docsUrl).join('\n')}\n`);
  } catch (error) {
    // The seed is one transaction: a failure leaves nothing half-written, and the API still serves.
    logger.error({ err: error }, 'seeding development data failed; run `npx corebank db seed` to see why');
  }
}

function startBackgroundJobs(
  database: DatabaseHandle,
  config: Config,
  logger: Logger,
  metrics: AppMetrics,
  appJobs: readonly ScheduledJob[],
): Scheduler {
  const signing = { key: config.auditHmacKey, keyId: config.auditHmacKeyId };
  return startScheduler(
    [
      {
        name: 'audit-seal',
        intervalMs: config.auditSealIntervalMs,
        run: () => sealPendingAudits(database.db, signing),
      },
      ...auditCheckpointJobs(database, config, logger),
      ...backupJobs(database, config, logger),
      ...retentionJobs(database, config, logger),
      ...complianceJobs(database, config, logger),
      {
        name: 'partition-maintenance',
        intervalMs: partitionMaintenanceIntervalMs,
        run: () =>
          sql`select corebank_ensure_monthly_partitions(${config.partitionMonthsAhead})`.execute(database.db),
      },
      ...identityJobs(database),
      ...moneyJobs(database, config),
      ...dataExportJobs(database, config),
      ...alertJobs(database, config.security.alerts, logger, metrics),
      ...appJobs,
    ],
    logger,
  );
}
