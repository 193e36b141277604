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
  /** Requests per window by one signed-in user, any route: the base of the adaptive limit. */
  userRequestsMax: number;
  /** RATE_LIMIT_ADAPTIVE_ENABLED: the user limit is the base times the user's trust multiplier. */
  adaptive: boolean;
}

/**
 * Detection rules and their responses (issue 10 item 3; docs/security.md "Detection rules"). Counts are
 * minimums ("fires at N"), windows in minutes, response durations in minutes.
 */
export interface DetectionConfig {
  /** DETECTION_ENABLED=false runs no rule, inline or in the sweep, and enforces no block or step-up. */
  enabled: boolean;
  /** How often the sweep runs every rule over the recent window. */
  sweepIntervalMs: number;
  /** The window of the login rules (brute force, credential stuffing, password spraying). */
  loginWindowMinutes: number;
  /** Failed logins from one address in the window: brute force. */
  bruteForceFailuresMin: number;
  /** Distinct accounts failed from one address, each tried about once: credential stuffing. */
  stuffingAccountsMin: number;
  /** Distinct accounts failed from one address, each tried a few times: password spraying. */
  sprayingAccountsMin: number;
  /** Average failures per account from which a many-account run is spraying, below which it is stuffing. */
  sprayingAttemptsPerAccountMin: number;
  /** How far back a user's earlier sessions are compared for "a new address" and "a new device". */
  newAddressLookbackDays: number;
  /**
   * Two successful logins of one user from different countries whose distance over the time between
   * them (coordinates less both accuracy radii) is above this speed, in km/h: impossible travel.
   */
  travelSpeedKmhMax: number;
  /** How long after a login from a new device and address a sensitive change or large transfer is a takeover chain. */
  takeoverWindowMinutes: number;
  /** Transfers (outgoing entries) by one user within velocityWindowMinutes. */
  velocityTransfersMin: number;
  velocityWindowMinutes: number;
  /** AUTHORIZATION_DENIED events for one address within forbiddenWindowMinutes. */
  forbiddenEventsMin: number;
  forbiddenWindowMinutes: number;
  /** How long a response blocks an address. */
  ipBlockMinutes: number;
  /** A block on an IPv6 address covers its network of this many leading bits (IPv4: the address alone). */
  ipv6BlockPrefixLength: number;
  /** How long a response locks an account. */
  accountLockMinutes: number;
  /** How old each process's copy of the blocked addresses may get before it is read again. */
  blockCacheMs: number;
  /** The least time between two inline runs for one subject (a busy user or address costs one run per pause). */
  inlineRepeatMs: number;
}

export interface SecurityConfig {
  accessLog: AccessLogConfig;
  rateLimit: RateLimitConfig;
  /** Alert sinks for critical security events (alert-config.ts). */
  alerts: AlertConfig;
  detection: DetectionConfig;
  /** An outgoing entry at or above this (minor units) is "unusual" in the security summary. */
  largeAmountMinor: number;
  /** GEOIP_ENABLED=false: no location lookups (the GeoIP data costs about 150 MB once loaded). */
  geoIpEnabled: boolean;
}

/** Tests exercise many requests from one address; they set the limits they test explicitly. */
function limitDefault(environment: Environment, value: number): number {
  return environment === 'test' ? 1_000_000 : value;
}

/**
 * Off by default under NODE_ENV=test: the suites make many failed logins and refused requests from one
 * address (127.0.0.1), which would block it for every later test; the detection suite turns it on.
 */
function readDetectionConfig(source: Source, environment: Environment): DetectionConfig {
  return {
    enabled: readBoolean(source, 'DETECTION_ENABLED', environment !== 'test'),
    sweepIntervalMs: readInteger(source, 'DETECTION_SWEEP_INTERVAL_MS', 60_000, 1000, 3_600_000),
    loginWindowMinutes: readInteger(source, 'DETECTION_LOGIN_WINDOW_MINUTES', 60, 1, 1440),
    bruteForceFailuresMin: readInteger(source, 'DETECTION_BRUTE_FORCE_FAILURES_MIN', 5, 2, 100_000),
    stuffingAccountsMin: readInteger(source, 'DETECTION_STUFFING_ACCOUNTS_MIN', 10, 2, 100_000),
    sprayingAccountsMin: readInteger(source, 'DETECTION_SPRAYING_ACCOUNTS_MIN', 5, 2, 100_000),
    sprayingAttemptsPerAccountMin: readInteger(
      source,
      'DETECTION_SPRAYING_ATTEMPTS_PER_ACCOUNT_MIN',
      2,
      2,
      100,
    ),
    newAddressLookbackDays: readInteger(source, 'DETECTION_NEW_ADDRESS_LOOKBACK_DAYS', 90, 1, 3650),
    travelSpeedKmhMax: readInteger(source, 'DETECTION_TRAVEL_SPEED_KMH_MAX', 900, 100, 100_000),
    takeoverWindowMinutes: readInteger(source, 'DETECTION_TAKEOVER_WINDOW_MINUTES', 60, 1, 1440),
    velocityTransfersMin: readInteger(source, 'DETECTION_VELOCITY_TRANSFERS_MIN', 10, 2, 100_000),
    velocityWindowMinutes: readInteger(source, 'DETECTION_VELOCITY_WINDOW_MINUTES', 10, 1, 1440),
    forbiddenEventsMin: readInteger(source, 'DETECTION_FORBIDDEN_EVENTS_MIN', 10, 2, 100_000),
    forbiddenWindowMinutes: readInteger(source, 'DETECTION_FORBIDDEN_WINDOW_MINUTES', 10, 1, 1440),
    ipBlockMinutes: readInteger(source, 'DETECTION_IP_BLOCK_MINUTES', 60, 1, 43_200),
    ipv6BlockPrefixLength: readInteger(source, 'DETECTION_IPV6_BLOCK_PREFIX', 64, 48, 128),
    accountLockMinutes: readInteger(source, 'DETECTION_ACCOUNT_LOCK_MINUTES', 60, 1, 43_200),
    blockCacheMs: readInteger(source, 'DETECTION_BLOCK_CACHE_MS', 5000, 100, 60_000),
    inlineRepeatMs: readInteger(source, 'DETECTION_INLINE_REPEAT_MS', 1000, 0, 60_000),
  };
}

export function readSecurityConfig(source: Source, environment: Environment): SecurityConfig {
  return {
    alerts: readAlertConfig(source, environment),
    detection: readDetectionConfig(source, environment),
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
      adaptive: readBoolean(source, 'RATE_LIMIT_ADAPTIVE_ENABLED', true),
    },
  };
}
