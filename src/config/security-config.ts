import { type AlertConfig, readAlertConfig } from './alert-config.ts';
import { type Environment, readBoolean, readInteger, type Source } from './config-readers.ts';

/** The API access log (seed 004 api_access_log, issue 10 item 7): written asynchronously in batches. */
export interface AccessLogConfig {
  /** ACCESS_LOG_ENABLED=false writes no access log (the benchmark's "off" run). */
  enabled: boolean;
  /** Entries waiting to be written; past it new entries are dropped and counted (memory stays bounded). */
  queueEntriesMax: number;
  /** Rows per INSERT. */
  batchEntriesMax: number;
  /** How long an entry may wait before its batch is written. */
  flushIntervalMs: number;
  /** How long a shutdown waits for the last batches (a hung database must not hold it). */
  closeWaitMs: number;
}

/** Request rate limits (seeds 003, 004; issue 10 item 6), per fixed window of windowMs. */
export interface RateLimitConfig {
  /** RATE_LIMIT_ENABLED=false turns every limit off (the benchmark's "off" run). */
  enabled: boolean;
  windowMs: number;
  /** Requests per window from one client address, any route. */
  ipRequestsMax: number;
  /** Requests per window from one address to the login, registration and token routes. */
  authRequestsMax: number;
  /** Requests per window by one signed-in user, any route. */
  userRequestsMax: number;
}

export interface SecurityConfig {
  accessLog: AccessLogConfig;
  rateLimit: RateLimitConfig;
  /** Alert sinks for critical security events (alert-config.ts). */
  alerts: AlertConfig;
  /** An outgoing entry at or above this (minor units) is "unusual" in the security summary. */
  largeAmountMinor: number;
  /** GEOIP_ENABLED=false: no location lookups (the GeoIP data costs about 150 MB once loaded). */
  geoIpEnabled: boolean;
}

/** Tests exercise many requests from one address; they set the limits they test explicitly. */
function limitDefault(environment: Environment, value: number): number {
  return environment === 'test' ? 1_000_000 : value;
}

export function readSecurityConfig(source: Source, environment: Environment): SecurityConfig {
  return {
    alerts: readAlertConfig(source, environment),
    accessLog: {
      enabled: readBoolean(source, 'ACCESS_LOG_ENABLED', true),
      queueEntriesMax: readInteger(source, 'ACCESS_LOG_QUEUE_ENTRIES_MAX', 10_000, 10, 1_000_000),
      batchEntriesMax: readInteger(source, 'ACCESS_LOG_BATCH_ENTRIES_MAX', 500, 1, 5_000),
      flushIntervalMs: readInteger(
        source,
        'ACCESS_LOG_FLUSH_INTERVAL_MS',
        environment === 'test' ? 50 : 1_000,
        10,
        60_000,
      ),
      closeWaitMs: readInteger(
        source,
        'ACCESS_LOG_CLOSE_WAIT_MS',
        environment === 'test' ? 2_000 : 5_000,
        100,
        60_000,
      ),
    },
    largeAmountMinor: readInteger(
      source,
      'SECURITY_LARGE_AMOUNT_MINOR',
      1_000_000_000,
      1,
      Number.MAX_SAFE_INTEGER,
    ),
    geoIpEnabled: readBoolean(source, 'GEOIP_ENABLED', true),
    rateLimit: {
      enabled: readBoolean(source, 'RATE_LIMIT_ENABLED', true),
      windowMs: readInteger(source, 'RATE_LIMIT_WINDOW_MS', 60_000, 1000, 86_400_000),
      ipRequestsMax: readInteger(
        source,
        'RATE_LIMIT_IP_REQUESTS_MAX',
        limitDefault(environment, 1200),
        1,
        10_000_000,
      ),
      authRequestsMax: readInteger(
        source,
        'RATE_LIMIT_AUTH_REQUESTS_MAX',
        limitDefault(environment, 60),
        1,
        10_000_000,
      ),
      userRequestsMax: readInteger(
        source,
        'RATE_LIMIT_USER_REQUESTS_MAX',
        limitDefault(environment, 600),
        1,
        10_000_000,
      ),
    },
  };
}
