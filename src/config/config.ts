import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import {
  type AuthenticationConfig,
  readAuthenticationConfig,
} from '../platform/auth/authentication-config.ts';
import { type ExposureConfig, readExposureConfig } from '../platform/exposure.ts';
import { type AuditCheckpointConfig, readAuditCheckpointConfig } from './audit-checkpoint-config.ts';
import { type BackupConfig, readBackupConfig } from './backup-config.ts';
import { type ComplianceConfig, readComplianceConfig } from './compliance-config.ts';
import {
  ConfigurationError,
  ConfigurationErrors,
  collectProblems,
  type Environment,
  readBoolean,
  readChoice,
  readInteger,
  readString,
  reportInvalid,
  type Source,
} from './config-readers.ts';
import { type ConsentConfig, readConsentConfig } from './consent-config.ts';
import { type MoneyConfig, readMoneyConfig } from './money-config.ts';
import { applyRenamedVariables, nameAsWritten, type RenamedVariableUse } from './renamed-variables.ts';
import { readSecurityConfig, type SecurityConfig } from './security-config.ts';
import { readSettingsConfig, type SettingsConfig } from './settings-config.ts';

// Callers have always found these here.
export { ConfigurationError, ConfigurationErrors, type Environment } from './config-readers.ts';

/**
 * One typed configuration object, parsed once from the environment.
 * A bad value stops the start with a message that names the variable (ConfigurationError).
 */

/** Fastify's trustProxy: off, every hop, or the trusted proxies' addresses and ranges. */
export type TrustProxy = boolean | string[];

export interface Config {
  environment: Environment;
  host: string;
  port: number;
  /** Processes `corebank serve` runs, sharing the port (WEB_CONCURRENCY; `serve --workers` overrides it). */
  workerCount: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** auto: pretty in development on a terminal, JSON everywhere else. */
  logFormat: 'auto' | 'json' | 'pretty';
  /** Who may set the client address through X-Forwarded-For (TRUST_PROXY); false: nobody. */
  trustProxy: TrustProxy;
  databaseUrl: string | undefined;
  dataDirectory: string;
  databasePoolMax: number;
  /** Waiting for a pooled connection, opening one included (pg applies one limit to both). */
  databaseAcquireTimeoutMs: number;
  /** PostgreSQL's statement_timeout on the server's connections. */
  databaseStatementTimeoutMs: number;
  /** The client's own limit on one query: the statement timeout plus databaseQueryTimeoutGraceMs. */
  databaseQueryTimeoutMs: number;
  migrateOnStart: boolean;
  seedOnStart: boolean;
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  shutdownGraceMs: number;
  auditHmacKey: Buffer;
  auditHmacKeyId: string;
  auditSealIntervalMs: number;
  /** Signed checkpoints of every tenant's chain head, written outside the database (audit-checkpoint-config.ts). */
  auditCheckpoint: AuditCheckpointConfig;
  partitionMonthsAhead: number;
  /** The retention job (issue 11 item 1; docs/operations.md "Retention and archives"). */
  retention: {
    archiveDirectory: string;
    intervalMs: number;
    /** AUDIT_RETENTION_DAYS is set: it is not read (the audit_logs policy replaces it); the server warns. */
    auditRetentionDaysSet: boolean;
  };
  backupDirectory: string;
  backupRetentionDays: number;
  /** Scheduled backups, the manifest signing key and the encryption key (backup-config.ts). */
  backup: BackupConfig;
  defaultTenantSlug: string;
  /** REDIS_URL: rate-limit counters shared by every server process (rate-limits.plugin.ts). */
  redisUrl: string | undefined;
  /** Keys the PIN HMAC (see credential-hashing.ts); the first is current, the rest verify old hashes. */
  pinPeppers: { id: string; key: Buffer }[];
  /** Keys the hashes of one-time secrets: OTPs, login tokens, refresh tokens, verification tokens. */
  secretTokenKey: Buffer;
  /** Access-token keys, session lifetimes, lockout and MFA settings (see authentication-config.ts). */
  authentication: AuthenticationConfig;
  /** Maintenance mode, idempotency retention, KYC tier limits, payout worker and simulator (money-config.ts). */
  money: MoneyConfig;
  /** Who may read /docs, /openapi.json and /metrics, and the admin listener (see exposure.ts). */
  exposure: ExposureConfig;
  /** The access log and the other security-operations settings (security-config.ts). */
  security: SecurityConfig;
  /** The terms and privacy policy versions customers must have accepted (consent-config.ts). */
  consent: ConsentConfig;
  /** The tenant configs' cache and the maintenance answer (settings-config.ts). */
  settings: SettingsConfig;
  /** The large-transaction threshold and the daily report schedule (compliance-config.ts). */
  compliance: ComplianceConfig;
  /** Variables set under a previous name (renamed-variables.ts); the server warns about each at start-up. */
  renamedVariablesUsed: readonly RenamedVariableUse[];
}

function readDatabaseUrl(source: Source): string | undefined {
  const raw = source.DATABASE_URL;
  if (raw === undefined || raw === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    const reason = 'is not a URL (expected postgres://user@host:port/database)';
    return reportInvalid(new ConfigurationError('DATABASE_URL', reason), undefined);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    const reason = `must start with postgres://, got ${parsed.protocol}//`;
    return reportInvalid(new ConfigurationError('DATABASE_URL', reason), undefined);
  }
  return raw;
}

/**
 * The audit HMAC key signs every sealed audit row. Development and test derive a per-process random
 * key when none is given; production refuses to start without one, because a key that changes on
 * restart makes every earlier signature unverifiable.
 */
/** RETENTION_ARCHIVE_DIR and RETENTION_INTERVAL_MS: 0 turns the scheduled run off (the default in tests). */
function readRetentionConfig(source: Source, environment: Environment): Config['retention'] {
  return {
    archiveDirectory: resolve(readString(source, 'RETENTION_ARCHIVE_DIR', './archives')),
    intervalMs: readInteger(
      source,
      'RETENTION_INTERVAL_MS',
      environment === 'test' ? 0 : 24 * 3600 * 1000,
      0,
      7 * 24 * 3600 * 1000,
    ),
    auditRetentionDaysSet: (source.AUDIT_RETENTION_DAYS ?? '') !== '',
  };
}

function readAuditKey(source: Source, environment: Environment): Buffer {
  const raw = source.AUDIT_HMAC_KEY;
  const fallback = environment === 'test' ? Buffer.alloc(32, 7) : developmentAuditKey();
  if (raw === undefined || raw === '') {
    if (environment === 'production') {
      const reason = 'is required in production (64 hex characters)';
      return reportInvalid(new ConfigurationError('AUDIT_HMAC_KEY', reason), fallback);
    }
    return fallback;
  }
  if (!/^[0-9a-fA-F]{64,128}$/.test(raw)) {
    const reason = 'must be 64 to 128 hex characters (32 to 64 bytes)';
    return reportInvalid(new ConfigurationError('AUDIT_HMAC_KEY', reason), fallback);
  }
  return Buffer.from(raw, 'hex');
}

/**
 * A 32-byte key from a hex variable. Development and test fall back to a fixed, clearly non-secret
 * key so data survives restarts; production refuses to start without a real one.
 */
function readKey(source: Source, name: string, environment: Environment, developmentSeed: string): Buffer {
  const raw = source[name];
  const fallback = Buffer.from(developmentSeed.padEnd(32, '.').slice(0, 32), 'utf8');
  if (raw === undefined || raw === '') {
    if (environment === 'production') {
      const reason = 'is required in production (64 hex characters)';
      return reportInvalid(new ConfigurationError(name, reason), fallback);
    }
    return fallback;
  }
  if (!/^[0-9a-fA-F]{64}$/.test(raw)) {
    return reportInvalid(new ConfigurationError(name, 'must be 64 hex characters (32 bytes)'), fallback);
  }
  return Buffer.from(raw, 'hex');
}

// A fixed development key keeps `audit verify` working across restarts of a development server.
function developmentAuditKey(): Buffer {
  return Buffer.from('corebank-development-audit-key-not-for-production!', 'utf8').subarray(0, 32);
}

const environments = ['development', 'test', 'production'] as const;
const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const logFormats = ['auto', 'json', 'pretty'] as const;

/**
 * The client gives up on a query this long after the server's statement_timeout would have cancelled
 * it: on a live server the server's cancel comes first (and the connection stays usable); only a
 * server that does not answer at all (a partition) reaches the client's own limit.
 */
export const databaseQueryTimeoutGraceMs = 1000;

/** Bounds of WEB_CONCURRENCY and `serve --workers`: beyond 64 processes, run more machines instead. */
export const workerCountMin = 1;
export const workerCountMax = 64;

const trustProxyEntriesMax = 100;
const trustProxyKeywords = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isAddressOrRange(entry: string): boolean {
  if (trustProxyKeywords.has(entry)) return true;
  const [address = '', prefix, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * TRUST_PROXY: which peers may tell the client address in X-Forwarded-For (Fastify's trustProxy).
 * Off by default: the socket peer is the client. `true` trusts every hop (only for a port nothing but
 * the proxy can reach); a comma-separated list trusts those addresses, CIDR ranges and the keywords
 * loopback, linklocal and uniquelocal. A bare hop count is refused: it cannot check who is connecting,
 * so a client that reaches the port directly could forge its address (Fastify 5.12.1 stopped honouring
 * one for that reason and would silently ignore it).
 */
function readTrustProxy(source: Source): TrustProxy {
  const raw = readString(source, 'TRUST_PROXY', 'false').trim();
  if (raw === 'false' || raw === '0') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) {
    const reason = `is a hop count (${raw.slice(0, 6)}), which cannot check who is connecting; name the proxies' addresses or CIDR ranges instead (e.g. 10.0.0.0/8 or uniquelocal)`;
    return reportInvalid(new ConfigurationError('TRUST_PROXY', reason), false);
  }
  const entries = raw.split(',').map((entry) => entry.trim());
  const invalid = entries.filter((entry) => !isAddressOrRange(entry));
  if (invalid.length > 0 || entries.length > trustProxyEntriesMax) {
    const examples = invalid.slice(0, 3).map((entry) => `"${entry.slice(0, 50)}"`);
    const reason = `must be false, true or a list of at most ${trustProxyEntriesMax} addresses or CIDR ranges separated by commas${examples.length > 0 ? ` (not ${examples.join(', ')})` : ''}`;
    return reportInvalid(new ConfigurationError('TRUST_PROXY', reason), false);
  }
  return entries;
}

function readConfig(source: Source, renamedVariablesUsed: readonly RenamedVariableUse[]): Config {
  const environment = readChoice(source, 'NODE_ENV', 'development', environments);
  const isProduction = environment === 'production';
  const defaultLogLevel = environment === 'test' ? 'silent' : 'info';
  const statementTimeoutMs = readInteger(source, 'DATABASE_STATEMENT_TIMEOUT_MS', 10_000, 100, 600_000);
  const dataDirectory = resolve(readString(source, 'DATA_DIR', './data'));
  const auditHmacKey = readAuditKey(source, environment);
  const auditHmacKeyId = readString(source, 'AUDIT_HMAC_KEY_ID', 'k1');
  const config: Config = {
    environment,
    host: readString(source, 'HOST', isProduction ? '0.0.0.0' : '127.0.0.1'),
    port: readInteger(source, 'PORT', 3000, 0, 65535),
    workerCount: readInteger(source, 'WEB_CONCURRENCY', 1, workerCountMin, workerCountMax),
    logLevel: readChoice(source, 'LOG_LEVEL', defaultLogLevel, logLevels),
    logFormat: readChoice(source, 'LOG_FORMAT', 'auto', logFormats),
    trustProxy: readTrustProxy(source),
    databaseUrl: readDatabaseUrl(source),
    dataDirectory,
    databasePoolMax: readInteger(source, 'DATABASE_POOL_MAX', 20, 1, 500),
    databaseAcquireTimeoutMs: readInteger(source, 'DATABASE_ACQUIRE_TIMEOUT_MS', 10_000, 100, 600_000),
    databaseStatementTimeoutMs: statementTimeoutMs,
    databaseQueryTimeoutMs: statementTimeoutMs + databaseQueryTimeoutGraceMs,
    migrateOnStart: readBoolean(source, 'MIGRATE_ON_START', !isProduction),
    seedOnStart: readBoolean(source, 'SEED_ON_START', environment === 'development'),
    bodyLimitBytes: readInteger(source, 'BODY_LIMIT_BYTES', 64 * 1024, 1024, 16 * 1024 * 1024),
    requestTimeoutMs: readInteger(source, 'REQUEST_TIMEOUT_MS', 30_000, 1000, 600_000),
    keepAliveTimeoutMs: readInteger(source, 'KEEP_ALIVE_TIMEOUT_MS', 72_000, 1000, 600_000),
    shutdownGraceMs: readInteger(source, 'SHUTDOWN_GRACE_MS', 10_000, 100, 120_000),
    auditHmacKey,
    auditHmacKeyId,
    auditSealIntervalMs: readInteger(source, 'AUDIT_SEAL_INTERVAL_MS', 1000, 10, 60_000),
    auditCheckpoint: readAuditCheckpointConfig(source, environment, dataDirectory),
    partitionMonthsAhead: readInteger(source, 'PARTITION_MONTHS_AHEAD', 3, 1, 24),
    retention: readRetentionConfig(source, environment),
    backupDirectory: resolve(readString(source, 'BACKUP_DIR', './backups')),
    backupRetentionDays: readInteger(
      source,
      'BACKUP_RETENTION_DAYS',
      isProduction ? 30 : environment === 'test' ? 1 : 7,
      1,
      3650,
    ),
    backup: readBackupConfig(source, environment, { id: auditHmacKeyId, key: auditHmacKey }),
    defaultTenantSlug: readString(source, 'DEFAULT_TENANT_SLUG', 'default'),
    redisUrl: source.REDIS_URL === '' ? undefined : source.REDIS_URL,
    pinPeppers: [
      {
        id: readString(source, 'PIN_PEPPER_ID', 'p1'),
        key: readKey(source, 'PIN_PEPPER', environment, 'corebank-development-pin-pepper'),
      },
    ],
    secretTokenKey: readKey(source, 'SECRET_TOKEN_KEY', environment, 'corebank-development-token-key'),
    authentication: readAuthenticationConfig(source, environment),
    money: readMoneyConfig(source, environment),
    exposure: readExposureConfig(source, environment),
    security: readSecurityConfig(source, environment),
    consent: readConsentConfig(source),
    settings: readSettingsConfig(source),
    compliance: readComplianceConfig(source),
    renamedVariablesUsed,
  };
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(config.defaultTenantSlug)) {
    const reason = 'must be 1-63 lowercase letters, digits or dashes';
    reportInvalid(new ConfigurationError('DEFAULT_TENANT_SLUG', reason), undefined);
  }
  checkDatabaseTimeouts(config);
  fitMoneyQueueWait(config, source);
  return config;
}

/**
 * A transfer may wait in the group committer's queue and then for its statement: both together stay
 * below REQUEST_TIMEOUT_MS, so a queued transfer gets its 503 in time. Unset, the wait is fitted.
 */
function fitMoneyQueueWait(config: Config, source: Source): void {
  const room = config.requestTimeoutMs - config.databaseQueryTimeoutMs - 500;
  const groupCommit = config.money.groupCommit;
  if (source.MONEY_QUEUE_WAIT_MS_MAX === undefined) {
    groupCommit.queueWaitMsMax = Math.max(10, Math.min(groupCommit.queueWaitMsMax, room));
  } else if (groupCommit.queueWaitMsMax > room) {
    const reason = `must be at most REQUEST_TIMEOUT_MS − the database query timeout − 500 (${room}), got ${groupCommit.queueWaitMsMax}`;
    reportInvalid(new ConfigurationError('MONEY_QUEUE_WAIT_MS_MAX', reason), undefined);
  }
}

/**
 * A request that waits on the database must get its 503 before the server gives up on the socket
 * (REQUEST_TIMEOUT_MS): otherwise an outage looks like a dropped connection instead of an answer.
 */
function checkDatabaseTimeouts(config: Config): void {
  const request = `REQUEST_TIMEOUT_MS (${config.requestTimeoutMs})`;
  if (config.databaseAcquireTimeoutMs >= config.requestTimeoutMs) {
    const reason = `must be below ${request}, got ${config.databaseAcquireTimeoutMs}`;
    reportInvalid(new ConfigurationError('DATABASE_ACQUIRE_TIMEOUT_MS', reason), undefined);
  }
  if (config.databaseQueryTimeoutMs >= config.requestTimeoutMs) {
    const reason = `must be at least ${databaseQueryTimeoutGraceMs} below ${request}, got ${config.databaseStatementTimeoutMs}`;
    reportInvalid(new ConfigurationError('DATABASE_STATEMENT_TIMEOUT_MS', reason), undefined);
  }
}

/**
 * Reads every variable, collecting every problem, and throws them together: a ConfigurationError for
 * one, ConfigurationErrors for several. A reader that still throws (instead of reportInvalid) ends the
 * reading there, its problem joining those found before it. A variable set under its previous name
 * (renamed-variables.ts) is read under its current one, and a problem with it names the previous one.
 */
export function loadConfig(environment: Source = process.env): Config {
  const { source, used } = applyRenamedVariables(environment);
  const collected = collectProblems(() => readConfig(source, used));
  const config = collected.value;
  const problems = collected.problems.map((problem) => nameAsWritten(problem, used));
  const [first] = problems;
  if (first !== undefined) throw problems.length === 1 ? first : new ConfigurationErrors(problems);
  assert.ok(config !== undefined);
  return config;
}
