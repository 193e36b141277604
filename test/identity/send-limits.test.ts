import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { ConfigurationError, loadConfig } from '../../src/config/config.ts';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.ts';
import {
  ensureTenant,
  loginCustomer,
  randomAccountNumber,
  randomPhone,
  testMotherName,
  testPin,
} from '../helpers/auth.ts';
import { productionSecrets } from '../helpers/production-environment.ts';
import { tally } from '../helpers/responses.ts';
import { createHarness, type Harness, secretsNeverLeakTest } from './harness.ts';

/*
 * Issue 7.5: 30 banking-login requests for one phone sent 30 OTP SMS in seconds; 30 password resets
 * for one address sent 30 emails. Every send now takes a unit of its recipient's counter and of the
 * client address's counter first (one conditional upsert each, in the database, so the limit holds
 * across server processes); beyond the limit the answer is 429 RATE_LIMITED with Retry-After.
 */

let harness: Harness;
const perRecipient = 5;

before(async () => {
  harness = await createHarness();
  await ensureTenant(harness.app);
});

after(async () => {
  await harness.close();
});

function assertRateLimited(response: LightMyRequestResponse, windowSeconds: number): void {
  assert.equal(response.statusCode, 429, response.body);
  const body = response.json() as { error: { code: string; message: string; request_id: string } };
  assert.equal(body.error.code, 'RATE_LIMITED');
  assert.ok(body.error.message.length > 0 && body.error.request_id.length > 0);
  const retryAfter = Number(response.headers['retry-after']);
  assert.ok(
    Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= windowSeconds,
    `Retry-After ${retryAfter}`,
  );
}

async function outboxCount(app: AppInstance, to: string): Promise<number> {
  const response = await app.inject({
    method: 'GET',
    url: `/v1/dev/outbox?to=${encodeURIComponent(to)}&limit=100`,
  });
  return (response.json() as { messages: unknown[] }).messages.length;
}

function bankingLogin(app: AppInstance, phone: string, accountNumber: string, name = 'Flooded Customer') {
  return app.inject({
    method: 'POST',
    url: '/v1/auth/banking/login',
    payload: {
      name,
      phone,
      account_number: accountNumber,
      mother_name: testMotherName,
      pin: testPin,
      device: { type: 'android', id: 'device-under-test', name: 'Test Phone' },
    },
  });
}

function forgot(app: AppInstance, email: string) {
  return app.inject({ method: 'POST', url: '/v1/auth/password/forgot', payload: { email } });
}

describe('regression (issue 7.5): SMS and email sends are limited', () => {
  test('30 concurrent banking logins for one new phone send 5 SMS; the rest are 429 with Retry-After', async () => {
    const phone = randomPhone();
    const accountNumber = randomAccountNumber();
    const responses = await Promise.all(
      Array.from({ length: 30 }, () => bankingLogin(harness.app, phone, accountNumber)),
    );
    assert.deepEqual(tally(responses), { '200': perRecipient, RATE_LIMITED: 30 - perRecipient });
    assert.equal(await outboxCount(harness.app, phone), perRecipient);
    const limited = responses.find((response) => response.statusCode === 429);
    assert.ok(limited);
    assertRateLimited(limited, 15 * 60);
  });

  test('a known phone is limited exactly like an unknown one, and a refused send does not count as a failed login', async () => {
    const customer = await loginCustomer(harness.app);
    const statuses: number[] = [];
    for (let index = 0; index < perRecipient + 2; index += 1) {
      statuses.push(
        (await bankingLogin(harness.app, customer.phone, customer.accountNumber, customer.name)).statusCode,
      );
    }
    // loginCustomer sent the first SMS of the window.
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429, 429]);
    const detail = await harness.database.db
      .selectFrom('users')
      .select('failed_login_attempts')
      .where('id', '=', customer.userId)
      .executeTakeFirstOrThrow();
    assert.equal(detail.failed_login_attempts, 0, 'the customer is not on the way to a lockout');
  });

  test('30 concurrent password resets for one address send 5 emails, and an unknown address answers the same', async () => {
    const known = `reset-${randomInt(1_000_000_000)}@example.com`;
    await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/email/register',
      payload: { email: known, password: 'a perfectly long passphrase', name: 'Reset Person' },
    });
    const registrationEmails = await outboxCount(harness.app, known);
    const unknown = `nobody-${randomInt(1_000_000_000)}@example.com`;
    const forKnown = await Promise.all(Array.from({ length: 30 }, () => forgot(harness.app, known)));
    const forUnknown = await Promise.all(Array.from({ length: 30 }, () => forgot(harness.app, unknown)));
    // The registration email took one unit of the known address's window.
    const allowed = perRecipient - registrationEmails;
    assert.deepEqual(tally(forKnown), { '202': allowed, RATE_LIMITED: 30 - allowed });
    assert.equal(await outboxCount(harness.app, known), perRecipient);
    assert.deepEqual(tally(forUnknown), { '202': perRecipient, RATE_LIMITED: 30 - perRecipient });
    assert.equal(await outboxCount(harness.app, unknown), 0);
    const limited = forUnknown.find((response) => response.statusCode === 429);
    assert.ok(limited);
    assertRateLimited(limited, 15 * 60);
  });

  test('registration emails count against the address too', async () => {
    const email = `register-${randomInt(1_000_000_000)}@example.com`;
    const statuses: number[] = [];
    for (let index = 0; index < perRecipient + 1; index += 1) {
      const response = await harness.app.inject({
        method: 'POST',
        url: '/v1/auth/email/register',
        payload: { email, password: 'a perfectly long passphrase', name: 'Repeat Person' },
      });
      statuses.push(response.statusCode);
    }
    assert.deepEqual(statuses, [202, 202, 202, 202, 202, 429]);
    assert.equal(await outboxCount(harness.app, email), perRecipient);
  });

  test('the client address limit covers SMS and email together', async () => {
    const strict = await createHarness({ MESSAGE_SENDS_PER_CLIENT_ADDRESS_MAX: '3' });
    try {
      await ensureTenant(strict.app);
      const answers = [
        await forgot(strict.app, 'first@example.com'),
        await bankingLogin(strict.app, randomPhone(), randomAccountNumber()),
        await forgot(strict.app, 'second@example.com'),
        await forgot(strict.app, 'third@example.com'),
        await bankingLogin(strict.app, randomPhone(), randomAccountNumber()),
      ];
      assert.deepEqual(
        answers.map((response) => response.statusCode),
        [202, 200, 202, 429, 429],
      );
      assertRateLimited(answers[3] as LightMyRequestResponse, 15 * 60);
    } finally {
      await strict.close();
    }
  });

  test('the limit holds across two server processes sharing one database', async () => {
    // A second app with its own connection pool on the same database (the same handle on PGlite,
    // which has one connection): what a second server process would be.
    const handle: DatabaseHandle = harness.database.url
      ? await openDatabase({ databaseUrl: harness.database.url, poolMax: 5 })
      : harness.database;
    const second = await buildApp({ config: harness.config, database: handle, logger: false });
    try {
      await second.ready();
      const phone = randomPhone();
      const accountNumber = randomAccountNumber();
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, index) =>
          bankingLogin(index % 2 === 0 ? harness.app : second, phone, accountNumber),
        ),
      );
      assert.deepEqual(tally(responses), { '200': perRecipient, RATE_LIMITED: 20 - perRecipient });
      assert.equal(
        (await outboxCount(harness.app, phone)) + (await outboxCount(second, phone)),
        perRecipient,
      );
    } finally {
      await second.close();
      if (handle !== harness.database) await handle.close();
    }
  });

  test('the limits are configuration: bounds are validated and named', () => {
    const config = loadConfig({ ...productionSecrets(), SMS_SENDS_PER_PHONE_MAX: '2' });
    assert.equal(config.authentication.sendLimits.smsPerPhone.max, 2);
    assert.equal(config.authentication.sendLimits.messagesPerClientAddress.max, 30, 'production default');
    for (const [variable, value] of [
      ['SMS_SENDS_PER_PHONE_MAX', '0'],
      ['EMAIL_SENDS_PER_ADDRESS_WINDOW_MINUTES', 'soon'],
      ['MESSAGE_SENDS_PER_CLIENT_ADDRESS_MAX', '-1'],
    ] as const) {
      assert.throws(
        () => loadConfig({ NODE_ENV: 'test', [variable]: value }),
        (error: unknown) => error instanceof ConfigurationError && error.variable === variable,
      );
    }
  });
});

secretsNeverLeakTest(() => harness);
