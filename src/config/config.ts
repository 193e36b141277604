import { resolve } from 'node:path';
import { type MoneyConfig, readMoneyConfig } from '../modules/operations/money-config.ts';
import {
  type AuthenticationConfig,
  readAuthenticationConfig,
} from '../platform/auth/authentication-config.ts';
import { type ExposureConfig, readExposureConfig } from '../platform/exposure.ts';

/**
 * One typed configuration object, parsed once from the environment.
 * A bad value stops the start with a message that names the variable (ConfigurationError).
 */
export type Environment = 'development' | 'test' | 'production';

export interface Config {
  environment: Environment;
  host: string;
  port: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  databaseUrl: string | undefined;
  dataDirectory: string;
  databasePoolMax: number;
  databaseAcquireTimeoutMs: number;
  migrateOnStart: boolean;
  seedOnStart: boolean;
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  shutdownGraceMs: number;
  auditHmacKey: Buffer;
  auditHmacKeyId: string;
  auditSealIntervalMs: number;
  partitionMonthsAhead: number;
  backupDirectory: string;
  backupRetentionDays: number;
  auditRetentionDays: number;
  defaultTenantSlug: string;
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
}

export class ConfigurationError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`Invalid configuration: ${variable} ${reason}`);
    this.name = 'ConfigurationError';
  }
}

type Source = Record<string, string | undefined>;

export function readString(source: Source, name: string, fallback: string): string {
  const value = source[name];
  return value === undefined || value === '' ? fallback : value;
}

export function readInteger(
  source: Source,
  name: string,
  fallback: number,
  minimum: number,
  maximum: number,
): number {
  const raw = source[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigurationError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < minimum || value > maximum) {
    throw new ConfigurationError(name, `must be between ${minimum} and ${maximum}, got ${value}`);
  }
  return value;
}

export function readBoolean(source: Source, name: string, fallback: boolean): boolean {
  const raw = source[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigurationError(name, `must be true or false, got "${raw}"`);
}

export function readChoice<T extends string>(
  source: Source,
  name: string,
  fallback: T,
  choices: readonly T[],
): T {
  const raw = readString(source, name, fallback);
  if (!(choices as readonly string[]).includes(raw)) {
    throw new ConfigurationError(name, `must be one of ${choices.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function readDatabaseUrl(source: Source): string | undefined {
  const raw = source.DATABASE_URL;
  if (raw === undefined || raw === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigurationError(
      'DATABASE_URL',
      'is not a URL (expected postgres://user@host:port/database)',
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ConfigurationError('DATABASE_URL', `must start with postgres://, got ${parsed.protocol}//`);
  }
  return raw;
}

/**
 * The audit HMAC key signs every sealed audit row. Development and test derive a per-process random
 * key when none is given; production refuses to start without one, because a key that changes on
 * restart makes every earlier signature unverifiable.
 */
function readAuditKey(source: Source, environment: Environment): Buffer {
  const raw = source.AUDIT_HMAC_KEY;
  if (raw === undefined || raw === '') {
    if (environment === 'production') {
      throw new ConfigurationError('AUDIT_HMAC_KEY', 'is required in production (64 hex characters)');
    }
    return environment === 'test' ? Buffer.alloc(32, 7) : developmentAuditKey();
  }
  if (!/^[0-9a-fA-F]{64,128}$/.test(raw)) {
    throw new ConfigurationError('AUDIT_HMAC_KEY', 'must be 64 to 128 hex characters (32 to 64 bytes)');
  }
  return Buffer.from(raw, 'hex');
}

/**
 * A 32-byte key from a hex variable. Development and test fall back to a fixed, clearly non-secret
 * key so data survives restarts; production refuses to start without a real one.
 */
function readKey(source: Source, name: string, environment: Environment, developmentSeed: string): Buffer {
  const raw = source[name];
  if (raw === undefined || raw === '') {
    if (environment === 'production')
      throw new ConfigurationError(name, 'is required in production (64 hex characters)');
    return Buffer.from(developmentSeed.padEnd(32, '.').slice(0, 32), 'utf8');
  }
  if (!/^[0-9a-fA-F]{64}$/.test(raw))
    throw new ConfigurationError(name, 'must be 64 hex characters (32 bytes)');
  return Buffer.from(raw, 'hex');
}

// A fixed development key keeps `audit verify` working across restarts of a development server.
function developmentAuditKey(): Buffer {
  return Buffer.from('corebank-development-audit-key-not-for-production!', 'utf8').subarray(0, 32);
}

const environments = ['development', 'test', 'production'] as const;
const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function loadConfig(source: Source = process.env): Config {
  const environment = readChoice(source, 'NODE_ENV', 'development', environments);
  const isProduction = environment === 'production';
  const defaultLogLevel = environment === 'test' ? 'silent' : 'info';
  const config: Config = {
    environment,
    host: readString(source, 'HOST', isProduction ? '0.0.0.0' : '127.0.0.1'),
    port: readInteger(source, 'PORT', 3000, 0, 65535),
    logLevel: readChoice(source, 'LOG_LEVEL', defaultLogLevel, logLevels),
    databaseUrl: readDatabaseUrl(source),
    dataDirectory: resolve(readString(source, 'DATA_DIR', './data')),
    databasePoolMax: readInteger(source, 'DATABASE_POOL_MAX', 20, 1, 500),
    databaseAcquireTimeoutMs: readInteger(source, 'DATABASE_ACQUIRE_TIMEOUT_MS', 30_000, 100, 600_000),
    migrateOnStart: readBoolean(source, 'MIGRATE_ON_START', !isProduction),
    seedOnStart: readBoolean(source, 'SEED_ON_START', environment === 'development'),
    bodyLimitBytes: readInteger(source, 'BODY_LIMIT_BYTES', 64 * 1024, 1024, 16 * 1024 * 1024),
    requestTimeoutMs: readInteger(source, 'REQUEST_TIMEOUT_MS', 30_000, 1000, 600_000),
    keepAliveTimeoutMs: readInteger(source, 'KEEP_ALIVE_TIMEOUT_MS', 72_000, 1000, 600_000),
    shutdownGraceMs: readInteger(source, 'SHUTDOWN_GRACE_MS', 10_000, 100, 120_000),
    auditHmacKey: readAuditKey(source, environment),
    auditHmacKeyId: readString(source, 'AUDIT_HMAC_KEY_ID', 'k1'),
    auditSealIntervalMs: readInteger(source, 'AUDIT_SEAL_INTERVAL_MS', 1000, 10, 60_000),
    partitionMonthsAhead: readInteger(source, 'PARTITION_MONTHS_AHEAD', 3, 1, 24),
    backupDirectory: resolve(readString(source, 'BACKUP_DIR', './backups')),
    backupRetentionDays: readInteger(
      source,
      'BACKUP_RETENTION_DAYS',
      isProduction ? 30 : environment === 'test' ? 1 : 7,
      1,
      3650,
    ),
    auditRetentionDays: readInteger(
      source,
      'AUDIT_RETENTION_DAYS',
      environment === 'test' ? 1 : 2555,
      1,
      36500,
    ),
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
  };
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(config.defaultTenantSlug)) {
    throw new ConfigurationError('DEFAULT_TENANT_SLUG', 'must be 1-63 lowercase letters, digits or dashes');
  }
  return config;
}
