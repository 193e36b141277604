import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { openDatabase } from '../../src/db/database.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { versionBelow as semverBelow } from '../../src/modules/configs/configs.catalog.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { bearer, type LoggedIn, type LoggedInCustomer, loginCustomer, loginStaff } from '../helpers/auth.ts';
import { testEngine } from '../helpers/database.ts';
import { answerCode } from '../helpers/responses.ts';
import { createHarness, type Harness } from '../identity/harness.ts';

/*
 * Issue 12 item 4: configs. The app reads a value by key without a token; staff with config:manage
 * set and unset typed values, each change audited with the old value; maintenance_mode refuses every
 * customer-facing write (staff routes and sign-in keep working) and min_app_version refuses an older
 * X-App-Version, in every process within CONFIG_CACHE_MS.
 */

let harness: Harness;
let admin: LoggedIn;

before(async () => {
  harness = await createHarness();
  admin = await loginStaff(harness.app, 'admin');
});

after(async () => {
  await harness.close();
});

function put(app: AppInstance, who: LoggedIn, key: string, value: unknown) {
  return app.inject({
    method: 'PUT',
    url: `/v1/admin/configs/${key}`,
    headers: bearer(who),
    payload: { value },
  });
}

const publicRead = (key: string, headers: Record<string, string> = {}) =>
  harness.app.inject({ method: 'GET', url: `/v1/configs/${key}`, headers });

/** A customer-facing write: a top-up of the customer's own wallet. */
function write(app: AppInstance, from: LoggedInCustomer, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: '/v1/transactions/topup',
    headers: { ...bearer(from), 'idempotency-key': crypto.randomUUID(), ...headers },
    payload: { amount: 1_000 },
  });
}

function auditOf(key: string) {
  return withScope(harness.database.db, { tenantId: admin.tenantId }, (transaction) =>
    transaction
      .selectFrom('audit_logs')
      .select(['action', 'old_values', 'new_values', 'admin_id'])
      .where('entity_type', '=', 'config')
      .where('entity_id', '=', key)
      .orderBy('created_at')
      .execute(),
  );
}

describe('configs', () => {
  test('staff set a value, the public reads it without a token, and the change is audited with the old value', async () => {
    assert.equal((await put(harness.app, admin, 'app_version', '2.1.0')).statusCode, 200);
    const read = await publicRead('app_version');
    assert.equal(read.statusCode, 200, read.body);
    assert.deepEqual(read.json(), { key: 'app_version', value: '2.1.0', version: null });
    assert.equal((await put(harness.app, admin, 'app_version', '2.2.0')).statusCode, 200);
    assert.equal(
      (await publicRead('app_version')).json().value,
      '2.2.0',
      'the process that changed it forgot its copy',
    );
    const [last] = (await auditOf('app_version')).slice(-1);
    assert.deepEqual(
      [last?.action, last?.old_values, last?.new_values, last?.admin_id],
      ['CONFIG_SET', { value: '2.1.0' }, { value: '2.2.0' }, admin.userId],
    );
  });

  test('a document is audited by digest, never its text; its version comes from TERMS_VERSION', async () => {
    const text = 'Terms of the bank, revision with a unique phrase 7f3a.';
    assert.equal((await put(harness.app, admin, 'tnc', text)).statusCode, 200);
    const read = (await publicRead('tnc')).json();
    assert.deepEqual(read, { key: 'tnc', value: text, version: harness.config.consent.termsVersion });
    const [last] = (await auditOf('tnc')).slice(-1);
    assert.doesNotMatch(JSON.stringify(last), /unique phrase/);
    const digest = last?.new_values as { value: { length: number } } | undefined;
    assert.equal(digest?.value.length, text.length);
  });

  test('bad input is refused and changes nothing: wrong types, unknown keys, NUL, a minimum above the latest', async () => {
    assert.equal((await put(harness.app, admin, 'maintenance_mode', 'false')).statusCode, 200);
    assert.equal((await put(harness.app, admin, 'app_version', '3.0.0')).statusCode, 200);
    const refused: [string, unknown, number][] = [
      ['maintenance_mode', 'yes', 400],
      ['maintenance_mode', true, 400],
      ['app_version', '3.0', 400],
      ['app_version', '03.0.0', 400],
      ['app_version', `3.0.0${'0'.repeat(40)}`, 400],
      ['min_app_version', '3.0.1', 400],
      ['tnc', '   ', 400],
      ['tnc', 'terms \u0000', 400],
      ['tnc', 'terms \udc00', 400],
      ['tnc', 'x'.repeat(100_001), 400],
      ['unknown_key', 'x', 404],
      ['..%2Fetc', 'x', 400],
      ['Bad%20Key', 'x', 400],
    ];
    for (const [key, value, status] of refused) {
      const answer = await put(harness.app, admin, key, value);
      assert.equal(answer.statusCode, status, `${key}=${String(value).slice(0, 20)}: ${answer.body}`);
    }
    assert.equal((await publicRead('maintenance_mode')).json().value, 'false');
    assert.equal((await publicRead('app_version')).json().value, '3.0.0');
    assert.equal(answerCode(await publicRead('unknown_key')), 'NOT_FOUND');
  });

  test('regression (review): concurrent changes of app_version and min_app_version never leave the minimum above the latest', async () => {
    for (let round = 0; round < 5; round += 1) {
      assert.equal((await put(harness.app, admin, 'app_version', '2.0.0')).statusCode, 200);
      assert.equal((await put(harness.app, admin, 'min_app_version', '1.0.0')).statusCode, 200);
      // Each alone is valid against the pair it reads; together they would leave 1.8.0 above 1.5.0.
      const answers = await Promise.all([
        put(harness.app, admin, 'app_version', '1.5.0'),
        put(harness.app, admin, 'min_app_version', '1.8.0'),
      ]);
      assert.equal(answers.filter((answer) => answer.statusCode === 200).length, 1, 'exactly one applies');
      const latest = (await publicRead('app_version')).json().value;
      const minimum = (await publicRead('min_app_version')).json().value;
      assert.ok(!semverBelow(latest, minimum), `${minimum} is above ${latest}`);
    }
    const unset = await harness.app.inject({
      method: 'DELETE',
      url: '/v1/admin/configs/min_app_version',
      headers: bearer(admin),
    });
    assert.equal(unset.statusCode, 204);
  });

  test('customers and managers may not change configs (403); a customer reads them', async () => {
    const customer = await loginCustomer(harness.app);
    const manager = await loginStaff(harness.app, 'manager');
    for (const who of [customer, manager]) {
      assert.equal((await put(harness.app, who, 'maintenance_mode', 'true')).statusCode, 403);
      const list = await harness.app.inject({
        method: 'GET',
        url: '/v1/admin/configs',
        headers: bearer(who),
      });
      assert.equal(list.statusCode, 403);
    }
    assert.equal((await publicRead('maintenance_mode', bearer(customer))).statusCode, 200);
    const list = await harness.app.inject({
      method: 'GET',
      url: '/v1/admin/configs',
      headers: bearer(admin),
    });
    assert.deepEqual(
      list
        .json()
        .configs.map((row: { key: string }) => row.key)
        .sort(),
      ['app_version', 'maintenance_mode', 'min_app_version', 'privacy_policy', 'tnc'],
    );
  });

  test('maintenance mode: customer writes answer 503 with Retry-After; reads, sign-in and staff keep working', async () => {
    const customer = await loginCustomer(harness.app);
    assert.equal((await put(harness.app, admin, 'maintenance_mode', 'true')).statusCode, 200);
    try {
      const refused = await write(harness.app, customer);
      assert.equal(answerCode(refused), 'MAINTENANCE_MODE');
      assert.equal(refused.statusCode, 503);
      assert.equal(
        refused.headers['retry-after'],
        String(harness.config.settings.maintenanceRetryAfterSeconds),
      );
      const profile = await harness.app.inject({
        method: 'PATCH',
        url: '/v1/me',
        headers: bearer(customer),
        payload: { name: 'Renamed In Maintenance' },
      });
      assert.equal(answerCode(profile), 'MAINTENANCE_MODE');
      const balances = await harness.app.inject({
        method: 'GET',
        url: '/v1/me/balances',
        headers: bearer(customer),
      });
      assert.equal(balances.statusCode, 200);
      const again = await loginCustomer(harness.app, {
        phone: customer.phone,
        accountNumber: customer.accountNumber,
        name: customer.name,
      });
      assert.ok(again.accessToken, 'sign-in stays open');
      const staffWrite = await harness.app.inject({
        method: 'POST',
        url: '/v1/admin/legal-holds',
        headers: bearer(admin),
        payload: { user_id: customer.userId, reason: 'Maintenance check' },
      });
      assert.equal(staffWrite.statusCode, 201, staffWrite.body);
    } finally {
      assert.equal((await put(harness.app, admin, 'maintenance_mode', 'false')).statusCode, 200);
    }
    assert.equal((await write(harness.app, customer)).statusCode, 201);
  });

  test('the app-version gate: older than min_app_version is 426, the minimum and newer pass, a malformed header is 400', async () => {
    const customer = await loginCustomer(harness.app);
    assert.equal((await put(harness.app, admin, 'app_version', '2.5.0')).statusCode, 200);
    assert.equal((await put(harness.app, admin, 'min_app_version', '2.0.0')).statusCode, 200);
    try {
      const old = await harness.app.inject({
        method: 'GET',
        url: '/v1/me/balances',
        headers: { ...bearer(customer), 'x-app-version': '1.9.9' },
      });
      assert.equal(old.statusCode, 426);
      assert.equal(answerCode(old), 'APP_UPDATE_REQUIRED');
      for (const version of ['2.0.0', '2.10.0']) {
        const ok = await harness.app.inject({
          method: 'GET',
          url: '/v1/me/balances',
          headers: { ...bearer(customer), 'x-app-version': version },
        });
        assert.equal(ok.statusCode, 200, version);
      }
      const malformed = await harness.app.inject({
        method: 'GET',
        url: '/v1/me/balances',
        headers: { ...bearer(customer), 'x-app-version': 'latest' },
      });
      assert.equal(answerCode(malformed), 'VALIDATION_FAILED');
      assert.equal((await write(harness.app, customer, { 'x-app-version': '1.0.0' })).statusCode, 426);
    } finally {
      const unset = await harness.app.inject({
        method: 'DELETE',
        url: '/v1/admin/configs/min_app_version',
        headers: bearer(admin),
      });
      assert.equal(unset.statusCode, 204);
    }
    assert.equal((await write(harness.app, customer, { 'x-app-version': '1.0.0' })).statusCode, 201);
  });

  test('maintenance mode set through one process reaches another within a second', {
    skip: testEngine === 'postgres' ? false : 'two processes share a database only on the PostgreSQL server',
  }, async () => {
    const url = harness.database.url;
    assert.ok(url);
    const database = await openDatabase({ databaseUrl: url, poolMax: 2 });
    const second = await buildApp({
      config: harness.config,
      database,
      logger: createLogger(harness.config, new Writable({ write: (_chunk, _encoding, done) => done() })),
    });
    await second.ready();
    try {
      const customer = await loginCustomer(second);
      assert.equal((await write(second, customer)).statusCode, 201, 'warms the second process');
      assert.equal((await put(harness.app, admin, 'maintenance_mode', 'true')).statusCode, 200);
      await sleep(harness.config.settings.cacheMs + 100);
      assert.equal(answerCode(await write(second, customer)), 'MAINTENANCE_MODE');
      assert.equal((await put(harness.app, admin, 'maintenance_mode', 'false')).statusCode, 200);
      await sleep(harness.config.settings.cacheMs + 100);
      assert.equal((await write(second, customer)).statusCode, 201);
    } finally {
      await put(harness.app, admin, 'maintenance_mode', 'false');
      await second.close();
      await database.close();
    }
  });
});
