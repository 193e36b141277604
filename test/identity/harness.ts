import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { sql } from 'kysely';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { type Config, loadConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { testPin, testStaffPassword } from '../helpers/auth.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';

/**
 * An identity test app whose every response body and log line is kept, so each suite can end with
 * the secrets-never-leak scan: no PIN, OTP, password, hash, TOTP secret, backup code or raw refresh
 * token may appear anywhere except in the one response that hands it to its owner (and, for OTPs and
 * email links, the development outbox that stands in for the SMS and email providers).
 */
export interface CapturedResponse {
  index: number;
  method: string;
  url: string;
  body: string;
}

export interface Harness {
  app: AppInstance;
  database: TestDatabase;
  config: Config;
  responses: CapturedResponse[];
  logLines: string[];
  /** Secrets the test itself used (passwords it chose, PINs); none may appear in any response or log. */
  secrets: Set<string>;
  close(): Promise<void>;
}

export async function createHarness(environment: Record<string, string> = {}): Promise<Harness> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'trace',
    LOGIN_IP_FAILURES_MAX: '100000',
    ...environment,
  });
  const database = await openTestDatabase();
  const logLines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      logLines.push(String(chunk));
      callback();
    },
  });
  const app = await buildApp({ config, database, logger: createLogger(config, stream) });
  const responses: CapturedResponse[] = [];
  app.addHook('onSend', async (request, _reply, payload) => {
    if (typeof payload === 'string' || Buffer.isBuffer(payload)) {
      responses.push({
        index: responses.length,
        method: request.method,
        url: request.url,
        body: String(payload),
      });
    }
    return payload;
  });
  await app.ready();
  const secrets = new Set<string>([testPin, testStaffPassword]);
  return {
    app,
    database,
    config,
    responses,
    logLines,
    secrets,
    close: async () => {
      await app.close();
      await database.close();
    },
  };
}

/** Fields whose values are credentials handed to their owner once. */
const issuedSecretKeys = new Set([
  'refresh_token',
  'login_token',
  'trusted_device_token',
  'secret',
  'otpauth_uri',
  'backup_codes',
  'qr_code',
]);

function collectIssued(value: unknown, found: string[]): void {
  if (Array.isArray(value)) {
    for (const item of value) collectIssued(item, found);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [key, item] of Object.entries(value)) {
    if (issuedSecretKeys.has(key)) {
      if (typeof item === 'string') found.push(item);
      if (Array.isArray(item))
        found.push(...item.filter((entry): entry is string => typeof entry === 'string'));
      if (key === 'otpauth_uri' && typeof item === 'string') {
        const secret = new URL(item).searchParams.get('secret');
        if (secret) found.push(secret);
      }
    } else {
      collectIssued(item, found);
    }
  }
}

/** Codes and link tokens delivered through the outbox: only the outbox may show them. */
function outboxSecrets(body: string): string[] {
  const parsed = JSON.parse(body) as { messages?: { body: string }[] };
  return (parsed.messages ?? []).flatMap((message) => [
    ...(message.body.match(/\b\d{6}\b/g) ?? []),
    ...(message.body.match(/token=([A-Za-z0-9_-]{20,})/g)?.map((match) => match.slice('token='.length)) ??
      []),
  ]);
}

/** Every stored hash and ciphertext of credential material in this database. */
async function storedSecrets(harness: Harness): Promise<string[]> {
  const { rows } = await sql<{ value: string | null }>`
    select pin_hash as value from users union all
    select password_hash from users union all
    select mfa_secret_ciphertext from users union all
    select otp_hash from otp_sessions union all
    select login_token_hash from otp_sessions union all
    select pin_hash from otp_sessions union all
    select token_hash from refresh_tokens union all
    select code_hash from mfa_backup_codes union all
    select device_fingerprint from trusted_devices union all
    select token_hash from verification_tokens`.execute(harness.database.db);
  return rows.map((row) => row.value).filter((value): value is string => value !== null && value.length >= 6);
}

function contains(haystack: string, secret: string): boolean {
  // Six-digit codes count only as whole numbers, so a timestamp's digits are not a false alarm.
  if (/^\d{6}$/.test(secret)) return new RegExp(`(?<![0-9])${secret}(?![0-9])`).test(haystack);
  return haystack.includes(secret);
}

/** Registers the final test of a suite: scans everything the suite produced. */
export function secretsNeverLeakTest(harness: () => Harness): void {
  test('no response body or log line of this suite contains a PIN, OTP, password, hash, TOTP secret, backup code or raw refresh token', async () => {
    const current = harness();
    // The scan is only as good as the logger's redaction and this matcher: prove both on a planted line.
    current.app.log.info({ password: 'planted-password-value', otp: '918273' }, 'planted secret check');
    const planted = current.logLines.find((line) => line.includes('planted secret check')) ?? '';
    assert.ok(
      planted.includes('[REDACTED]') &&
        !contains(planted, 'planted-password-value') &&
        !contains(planted, '918273'),
    );
    assert.ok(contains('{"code":"918273"}', '918273') && !contains('{"time":19182734}', '918273'));
    const allowedIn = new Map<string, Set<number>>();
    const allow = (secret: string, index: number) => {
      if (!allowedIn.has(secret)) allowedIn.set(secret, new Set());
      allowedIn.get(secret)?.add(index);
    };
    for (const response of current.responses) {
      if (!response.body.startsWith('{')) continue;
      const issued: string[] = [];
      if (response.url.startsWith('/v1/dev/outbox')) issued.push(...outboxSecrets(response.body));
      else collectIssued(JSON.parse(response.body), issued);
      for (const secret of issued) allow(secret, response.index);
    }
    const neverShown = [...current.secrets, ...(await storedSecrets(current))];
    for (const secret of neverShown) allowedIn.set(secret, new Set());
    assert.ok(allowedIn.size > 0, 'the suite produced no secrets to look for');
    assert.ok(current.responses.length > 0 && current.logLines.length > 0, 'nothing was captured');
    for (const [secret, allowed] of allowedIn) {
      for (const response of current.responses) {
        if (allowed.has(response.index)) continue;
        assert.ok(
          !contains(response.body, secret),
          `response ${response.method} ${response.url} contains a secret`,
        );
      }
      for (const line of current.logLines) {
        assert.ok(!contains(line, secret), `a log line contains a secret: ${line.slice(0, 200)}`);
      }
    }
  });
}
