import {
  ConfigurationError,
  type Environment,
  readInteger,
  reportInvalid,
  type Source,
} from './config-readers.ts';

/** Where critical security events are sent (issue 10 item 9; src/modules/alerts/, docs/security.md). */
export interface AlertConfig {
  /** How often the alert job queues new critical events and sends the due deliveries. */
  intervalMs: number;
  /** The webhook sink; absent when ALERT_WEBHOOK_URL is not set (the log sink is always on). */
  webhook: AlertWebhookConfig | undefined;
}

export interface AlertWebhookConfig {
  url: string;
  /** HMAC-SHA256 key of X-Corebank-Signature. Never logged, never in an error or a response. */
  secret: string;
  /** One POST waits at most this long for the answer. */
  timeoutMs: number;
  /** Tries per delivery; after the last failed one the delivery is dead (a dead letter). */
  attemptsMax: number;
  /** The wait after the first failure; each further failure doubles it (capped at one hour). */
  backoffBaseMs: number;
}

/** A secret shorter than this is guessable enough to forge an alert. */
export const alertWebhookSecretLengthMin = 32;
const secretLengthMax = 512;
const urlLengthMax = 2000;

function readWebhookUrl(source: Source): string | undefined {
  const raw = source.ALERT_WEBHOOK_URL;
  if (raw === undefined || raw === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    return reportInvalid(new ConfigurationError('ALERT_WEBHOOK_URL', 'is not a URL'), undefined);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    const reason = `must start with https:// or http://, got ${parsed.protocol}//`;
    return reportInvalid(new ConfigurationError('ALERT_WEBHOOK_URL', reason), undefined);
  }
  if (raw.length > urlLengthMax) {
    const reason = `must be at most ${urlLengthMax} characters`;
    return reportInvalid(new ConfigurationError('ALERT_WEBHOOK_URL', reason), undefined);
  }
  return raw;
}

/** The secret is checked for presence and length only: its value never reaches a message. */
function readWebhookSecret(source: Source, url: string | undefined): string | undefined {
  const raw = source.ALERT_WEBHOOK_SECRET;
  const given = raw !== undefined && raw !== '';
  if (!url) {
    if (!given) return undefined;
    const reason = 'is set but ALERT_WEBHOOK_URL is not';
    return reportInvalid(new ConfigurationError('ALERT_WEBHOOK_SECRET', reason), undefined);
  }
  if (!given) {
    const reason = 'is required with ALERT_WEBHOOK_URL (it signs every alert)';
    return reportInvalid(new ConfigurationError('ALERT_WEBHOOK_SECRET', reason), undefined);
  }
  if (raw.length < alertWebhookSecretLengthMin || raw.length > secretLengthMax) {
    const reason = `must be ${alertWebhookSecretLengthMin} to ${secretLengthMax} characters, got ${raw.length}`;
    return reportInvalid(new ConfigurationError('ALERT_WEBHOOK_SECRET', reason), undefined);
  }
  return raw;
}

export function readAlertConfig(source: Source, environment: Environment): AlertConfig {
  const url = readWebhookUrl(source);
  const secret = readWebhookSecret(source, url);
  const timeoutMs = readInteger(source, 'ALERT_WEBHOOK_TIMEOUT_MS', 5_000, 100, 60_000);
  const attemptsMax = readInteger(source, 'ALERT_WEBHOOK_ATTEMPTS_MAX', 8, 1, 20);
  const backoffBaseMs = readInteger(source, 'ALERT_WEBHOOK_BACKOFF_BASE_MS', 10_000, 1, 3_600_000);
  return {
    intervalMs: readInteger(
      source,
      'ALERT_INTERVAL_MS',
      environment === 'test' ? 1_000 : 10_000,
      100,
      3_600_000,
    ),
    webhook: url && secret ? { url, secret, timeoutMs, attemptsMax, backoffBaseMs } : undefined,
  };
}
