import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import {
  createLogger,
  isSecretKey,
  maskSecrets,
  maskUrlQuery,
  redactedValue,
  wantsPrettyLogs,
} from './logger.ts';

describe('maskSecrets', () => {
  test('replaces every listed secret key at any depth and keeps the rest', () => {
    const input = {
      user_id: 'u1',
      password: 'hunter2',
      profile: { name: 'Ada', pin: '1234', devices: [{ totp_code: '123456', label: 'phone' }] },
      tokens: { refresh_token: 'r', access_token: 'a' },
    };
    assert.deepEqual(maskSecrets(input), {
      user_id: 'u1',
      password: redactedValue,
      profile: { name: 'Ada', pin: redactedValue, devices: [{ totp_code: redactedValue, label: 'phone' }] },
      tokens: redactedValue,
    });
  });

  test('masks keys that contain a secret fragment (password_hash, mfaSecret, pinHash, otpauth_url)', () => {
    const masked = maskSecrets({
      password_hash: 'h',
      mfaSecret: 's',
      pinHash: 'p',
      otpauth_url: 'otpauth://',
      apikeytoken: 't',
      code: '000111',
    }) as Record<string, unknown>;
    for (const [key, value] of Object.entries(masked)) assert.equal(value, redactedValue, key);
  });

  test('does not mask harmless words that merely contain "pin", "otp" or "hash" inside them', () => {
    for (const key of ['shipping_address', 'mapping', 'opinion', 'footprint', 'amount_minor']) {
      assert.equal(isSecretKey(key), false, key);
    }
  });

  test('returns a copy and never mutates its input', () => {
    const input = { nested: { secret: 'x' }, list: [1, 2] };
    const masked = maskSecrets(input) as typeof input;
    assert.equal(input.nested.secret, 'x');
    assert.notEqual(masked.list, input.list);
    assert.deepEqual(masked.list, [1, 2]);
  });

  test('keeps primitives, null and dates, and cuts cycles instead of overflowing the stack', () => {
    assert.equal(maskSecrets('plain'), 'plain');
    assert.equal(maskSecrets(null), null);
    const when = new Date('2025-01-02T03:04:05Z');
    assert.deepEqual(maskSecrets({ when }), { when });
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    assert.deepEqual(maskSecrets(cyclic), { name: 'loop', self: redactedValue });
  });
});

describe('createLogger', () => {
  function captureLogger() {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, callback) {
        lines.push(String(chunk));
        callback();
      },
    });
    return { logger: createLogger({ logLevel: 'info' }, stream), lines };
  }

  test('redacts secret keys and credential headers in log lines', async () => {
    const { logger, lines } = captureLogger();
    logger.info({
      password: 'top-level-password',
      body: { otp_code: '654321', nested: { pin: '9999' } },
      req: { headers: { authorization: 'Bearer abc.def', cookie: 'sid=1', 'x-api-key': 'key-1' } },
    });
    await new Promise((resolve) => setImmediate(resolve));
    const output = lines.join('');
    for (const secret of ['top-level-password', '654321', '9999', 'Bearer abc.def', 'sid=1', 'key-1']) {
      assert.equal(output.includes(secret), false, `log contains ${secret}`);
    }
    assert.ok(output.includes(redactedValue));
  });

  test('regression (issue 7.13): error codes and SQLSTATEs show; a code in request data stays hidden', async () => {
    const { logger, lines } = captureLogger();
    logger.info({ code: 'VALIDATION_FAILED', status: 400 }, 'request rejected');
    logger.error({ err: Object.assign(new Error('duplicate key'), { code: '23505' }) }, 'request failed');
    logger.warn({ database: { sqlstate: '57P01', errno: 'ECONNRESET' } }, 'lost');
    logger.info({ body: { code: '111222' }, req: { body: { code: '333444' }, query: { code: '555666' } } });
    logger.info({
      body: { device: { code: '777888' } },
      password: 'still-secret',
      nested: { totp: '999000' },
    });
    await new Promise((resolve) => setImmediate(resolve));
    const output = lines.join('');
    assert.match(output, /"code":"VALIDATION_FAILED"/);
    assert.match(output, /"code":"23505"/);
    assert.match(output, /"sqlstate":"57P01"/);
    for (const secret of ['111222', '333444', '555666', '777888', 'still-secret', '999000']) {
      assert.equal(output.includes(secret), false, `log contains ${secret}`);
    }
  });

  test('pretty lines only when asked, or in development on a terminal', () => {
    assert.equal(
      wantsPrettyLogs({ logLevel: 'info', logFormat: 'pretty', environment: 'production' }, false),
      true,
    );
    assert.equal(
      wantsPrettyLogs({ logLevel: 'info', logFormat: 'json', environment: 'development' }, true),
      false,
    );
    assert.equal(
      wantsPrettyLogs({ logLevel: 'info', logFormat: 'auto', environment: 'development' }, true),
      true,
    );
    assert.equal(
      wantsPrettyLogs({ logLevel: 'info', logFormat: 'auto', environment: 'development' }, false),
      false,
    );
    assert.equal(
      wantsPrettyLogs({ logLevel: 'info', logFormat: 'auto', environment: 'production' }, true),
      false,
    );
  });

  test('masks secret query values in logged URLs', () => {
    assert.equal(maskUrlQuery('/reset?token=abc&lang=en'), '/reset?token=%5BREDACTED%5D&lang=en');
    assert.equal(maskUrlQuery('/accounts'), '/accounts');
  });
});
