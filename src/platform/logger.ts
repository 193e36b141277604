import { createRequire } from 'node:module';
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';
import type { Config } from '../config/config.ts';

/**
 * Keys whose values are credentials or one-time secrets. They never reach a log line (pino redact)
 * nor the audit trail (maskSecrets), whatever object they are nested in.
 */
export const secretKeyNames = [
  'pin',
  'pin_atm',
  'current_pin',
  'new_pin',
  'password',
  'new_password',
  'current_password',
  'otp',
  'otp_code',
  'token',
  'access_token',
  'refresh_token',
  'login_token',
  'secret',
  'totp',
  'totp_code',
  'mfa_secret',
  'backup_code',
  'code',
] as const;

/** A key containing one of these anywhere is secret for maskSecrets (`password_hash`, `apitoken`). */
const secretKeySubstrings = ['password', 'secret', 'token'] as const;

/**
 * These are short enough to hide inside harmless words (`shipping` contains "pin"), so they count
 * only at the start of a word of the key: `pin_hash`, `newPin`, `otpauth_url`, `hashed_code`.
 */
const secretWordPrefixes = ['pin', 'otp', 'hash'] as const;

export const redactedValue = '[REDACTED]';

/** pino redact paths cannot match "any depth", so every key is listed at the depths objects reach. */
const redactionDepthMax = 3;

/**
 * `code` is a one-time code only in what a client sent; everywhere else in a log line it is an error
 * code (`VALIDATION_FAILED`) or a SQLSTATE (`23505`), which operators need to see (issue 7.13). So it
 * is redacted inside request data only; every other secret key name is redacted at every depth.
 */
const requestOnlySecretKeys: ReadonlySet<string> = new Set(['code']);
const requestDataKeys = ['body', 'query', 'params', 'payload', 'headers'] as const;

function pathsAtEveryDepth(key: string, depthMax: number): string[] {
  return Array.from({ length: depthMax + 1 }, (_unused, depth) =>
    [...Array<string>(depth).fill('*'), key].join('.'),
  );
}

function buildRedactionPaths(): string[] {
  const paths = ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]'];
  for (const key of secretKeyNames) {
    if (!requestOnlySecretKeys.has(key)) paths.push(...pathsAtEveryDepth(key, redactionDepthMax));
  }
  for (const key of requestOnlySecretKeys) {
    for (const container of requestDataKeys) {
      // `body.code`, `req.body.code`, `body.device.code`, `req.body.device.code`.
      paths.push(`${container}.${key}`, `*.${container}.${key}`);
      paths.push(`${container}.*.${key}`, `*.${container}.*.${key}`);
    }
  }
  return paths;
}

export const redactionPaths: readonly string[] = buildRedactionPaths();

/** Query values can carry secrets too (a reset link's token), so the logged URL masks them. */
export function maskUrlQuery(url: string): string {
  const queryStart = url.indexOf('?');
  if (queryStart === -1) return url;
  const parameters = new URLSearchParams(url.slice(queryStart + 1));
  for (const key of new Set(parameters.keys())) {
    if (isSecretKey(key)) parameters.set(key, redactedValue);
  }
  return `${url.slice(0, queryStart)}?${parameters.toString()}`;
}

interface LoggedRequest {
  method?: string;
  url?: unknown;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number } | null;
}

/** Replaces Fastify's request serializer: no headers, no body, and a URL with masked query secrets. */
function serializeRequest(request: LoggedRequest): unknown {
  // Anything logged under `req` that is not a request is left to the redaction paths.
  if (typeof request?.url !== 'string') return request;
  return {
    method: request.method,
    url: maskUrlQuery(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

type LoggerConfig = Pick<Config, 'logLevel'> & Partial<Pick<Config, 'logFormat' | 'environment'>>;

const prettyTransport = 'pino-pretty';

/**
 * Pretty lines for a developer at a terminal, JSON for machines: LOG_FORMAT=pretty or json decides;
 * by default (auto) development on a terminal is pretty, everything else JSON. pino-pretty is a
 * development dependency: where it is not installed (a production image), the format stays JSON.
 */
export function wantsPrettyLogs(
  config: LoggerConfig,
  stdoutIsTerminal = process.stdout.isTTY === true,
): boolean {
  if (config.logFormat === 'pretty') return true;
  if (config.logFormat === 'json') return false;
  return config.environment === 'development' && stdoutIsTerminal;
}

function prettyTransportInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve(prettyTransport);
    return true;
  } catch {
    return false;
  }
}

export function createLogger(config: LoggerConfig, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level: config.logLevel,
    redact: { paths: [...redactionPaths], censor: redactedValue },
    serializers: { req: serializeRequest },
  };
  if (destination) return pino(options, destination);
  if (wantsPrettyLogs(config) && prettyTransportInstalled()) {
    // Redaction and serializers run in this thread before a line reaches the transport's worker.
    options.transport = {
      target: prettyTransport,
      options: {
        colorize: process.stdout.isTTY === true,
        ignore: 'pid,hostname',
        translateTime: 'SYS:HH:MM:ss.l',
      },
    };
  }
  return pino(options);
}

export function isSecretKey(key: string): boolean {
  const lowered = key.toLowerCase();
  if ((secretKeyNames as readonly string[]).includes(lowered)) return true;
  if (secretKeySubstrings.some((fragment) => lowered.includes(fragment))) return true;
  return splitWords(key).some((word) => secretWordPrefixes.some((prefix) => word.startsWith(prefix)));
}

/** `newPin_code-2` → ['new', 'pin', 'code', '2']: snake, kebab, dotted and camel case. */
function splitWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length > 0);
}

/** Nesting deeper than this is replaced wholesale: audit payloads are small, a deep one is a bug or an attack. */
const maskDepthMax = 32;

/**
 * A deep copy of `value` with every secret-looking key's value replaced by '[REDACTED]'. The audit
 * trail stores what changed; it must never store the credential that changed.
 */
export function maskSecrets(value: unknown): unknown {
  return maskValue(value, 0, new WeakSet());
}

function maskValue(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth >= maskDepthMax || seen.has(value)) return redactedValue;
  if (value instanceof Date) return new Date(value.getTime());
  // Raw bytes in an audit payload are key material or hashes far more often than anything a reader needs.
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return redactedValue;
  seen.add(value);
  let copy: unknown;
  if (Array.isArray(value)) {
    copy = value.map((item) => maskValue(item, depth + 1, seen));
  } else {
    const entries = Object.entries(value).map(([key, item]) => [
      key,
      isSecretKey(key) ? redactedValue : maskValue(item, depth + 1, seen),
    ]);
    copy = Object.fromEntries(entries);
  }
  seen.delete(value);
  return copy;
}
