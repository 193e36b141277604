import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import {
  bearer,
  ensureTenant,
  type LoggedInCustomer,
  type LoggedInStaff,
  loginCustomer,
  loginStaff,
  testMotherName,
  testPin,
  testStaffPassword,
} from '../helpers/auth.ts';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';

/**
 * Regressions of issue 7 items 1 (validation half) and 11: inputs that reached PostgreSQL unvalidated
 * and answered 500, some after a PIN or password had already been checked, which made a lockout-free
 * credential oracle. Each is now a 400 VALIDATION_FAILED naming the field, and changes nothing.
 */
let app: AppInstance;
let database: TestDatabase;
let customer: LoggedInCustomer;
let staff: LoggedInStaff;

before(async () => {
  database = await openTestDatabase();
  app = await buildApp({
    config: loadConfig({ NODE_ENV: 'test', LOGIN_IP_FAILURES_MAX: '100000' }),
    database,
    logger: false,
  });
  await app.ready();
  await ensureTenant(app);
  customer = await loginCustomer(app);
  staff = await loginStaff(app, 'super_admin');
  const topup = await app.inject({
    method: 'POST',
    url: `/v1/admin/users/${customer.userId}/topup`,
    headers: bearer(staff),
    payload: { amount: 1_000_000 },
  });
  assert.equal(topup.statusCode, 201, topup.body);
});

after(async () => {
  await app.close();
  await database.close();
});

/** Counts of what a login or a money request writes; a refused request must leave all of them. */
async function footprint(): Promise<Record<string, unknown>> {
  const { rows } = await sql<Record<string, unknown>>`select
      (select count(*) from login_audits) as login_audits,
      (select count(*) from audit_logs) as audit_logs,
      (select count(*) from otp_sessions) as otp_sessions,
      (select count(*) from device_sessions) as sessions,
      (select coalesce(sum(failed_login_attempts), 0) from users) as failed_logins,
      (select count(*) from transactions) as ledger_entries,
      (select coalesce(sum(abs(balance)), 0) from wallets) as balances,
      (select count(*) from bank_accounts) as bank_accounts,
      (select string_agg(name, ',' order by id) from users) as names`.execute(database.db);
  return rows[0] as Record<string, unknown>;
}

function expectField(response: LightMyRequestResponse, field: string): void {
  assert.equal(response.statusCode, 400, response.body);
  const body = response.json() as {
    error: { code: string; request_id: string; details?: { field: string }[] };
  };
  assert.equal(body.error.code, 'VALIDATION_FAILED');
  assert.equal(body.error.request_id, response.headers['x-request-id']);
  assert.deepEqual(
    body.error.details?.map((detail) => detail.field),
    [field],
  );
}

const illFormed = ['\ud800', 'a\u0000b', '\udfff', 'x\udc00\ud800y'];

describe(`credential checks never see ill-formed text (${testEngine})`, () => {
  for (const pin of [testPin, '000000']) {
    test(`regression (issue 7 item 1): banking login with device.name "\\ud800" or "a\\u0000b" and ${pin === testPin ? 'the right' : 'a wrong'} PIN answers 400 naming body.device.name and records nothing`, async () => {
      for (const name of illFormed) {
        const before = await footprint();
        const response = await app.inject({
          method: 'POST',
          url: '/v1/auth/banking/login',
          payload: {
            name: customer.name,
            phone: customer.phone,
            account_number: customer.accountNumber,
            mother_name: testMotherName,
            pin,
            device: { type: 'android', id: 'device-1', name },
          },
        });
        expectField(response, 'body.device.name');
        assert.deepEqual(await footprint(), before, JSON.stringify(name));
      }
    });
  }

  for (const password of [testStaffPassword, 'a-wrong-password-for-staff']) {
    test(`regression (issue 7 item 1): staff login with an ill-formed device.name and ${password === testStaffPassword ? 'the right' : 'a wrong'} password answers 400 and records nothing`, async () => {
      for (const name of illFormed) {
        const before = await footprint();
        const response = await app.inject({
          method: 'POST',
          url: '/v1/admin/auth/login',
          payload: { email: staff.email, password, device: { type: 'web', name } },
        });
        expectField(response, 'body.device.name');
        assert.deepEqual(await footprint(), before);
      }
    });
  }

  test('regression (issue 7 item 1): email login with an ill-formed password or device name answers 400 and records nothing', async () => {
    for (const [payload, field] of [
      [{ email: 'nobody@example.com', password: 'pass\u0000word' }, 'body.password'],
      [
        { email: 'nobody@example.com', password: 'password', device: { type: 'web', name: '\ud800' } },
        'body.device.name',
      ],
    ] as const) {
      const before = await footprint();
      expectField(await app.inject({ method: 'POST', url: '/v1/auth/email/login', payload }), field);
      assert.deepEqual(await footprint(), before);
    }
  });
});

describe(`customer writes never see ill-formed text (${testEngine})`, () => {
  const cases: {
    name: string;
    method: 'PATCH' | 'POST';
    url: string;
    payload: (text: string) => unknown;
    field: string;
  }[] = [
    {
      name: 'PATCH /v1/me name',
      method: 'PATCH',
      url: '/v1/me',
      payload: (text) => ({ name: text }),
      field: 'body.name',
    },
    {
      name: 'PATCH /v1/me tags',
      method: 'PATCH',
      url: '/v1/me',
      payload: (text) => ({ tags: ['fine', text] }),
      field: 'body.tags.1',
    },
    {
      name: 'PATCH /v1/me metadata value',
      method: 'PATCH',
      url: '/v1/me',
      payload: (text) => ({ metadata: { locale: text } }),
      field: 'body.metadata.locale',
    },
    {
      name: 'POST /v1/bank-accounts account_name',
      method: 'POST',
      url: '/v1/bank-accounts',
      payload: (text) => ({ account_number: '01400123456789', account_name: `Name ${text}` }),
      field: 'body.account_name',
    },
    {
      name: 'POST /v1/transactions/topup description',
      method: 'POST',
      url: '/v1/transactions/topup',
      payload: (text) => ({ amount: 1000, description: text }),
      field: 'body.description',
    },
    {
      name: 'POST /v1/transactions/transfer description',
      method: 'POST',
      url: '/v1/transactions/transfer',
      payload: (text) => ({ to_account_number: '1234567802', amount: 1000, description: text }),
      field: 'body.description',
    },
  ];
  for (const item of cases) {
    test(`regression (issue 7 item 11): ${item.name} with NUL or a lone surrogate answers 400 naming ${item.field} and changes nothing`, async () => {
      for (const text of illFormed) {
        const before = await footprint();
        const response = await app.inject({
          method: item.method,
          url: item.url,
          headers: bearer(customer),
          payload: item.payload(text) as Record<string, unknown>,
        });
        expectField(response, item.field);
        assert.deepEqual(await footprint(), before);
      }
    });
  }

  test('an object key with NUL or a lone surrogate is refused, named without the bad character', async () => {
    const response = await app.inject({
      method: 'PATCH',
      url: '/v1/me',
      headers: bearer(customer),
      payload: { metadata: { 'lo\u0000cale': 'x' } },
    });
    expectField(response, 'body.metadata.lo\ufffdcale');
  });
});

describe(`headers, query and path values are checked too (${testEngine})`, () => {
  test('a NUL or lone surrogate in user-agent, x-request-id, idempotency-key or x-tenant-id answers 400 naming the header', async () => {
    for (const header of ['user-agent', 'x-request-id', 'idempotency-key', 'x-tenant-id']) {
      for (const text of ['a\u0000b', '\ud800']) {
        const before = await footprint();
        const response = await app.inject({
          method: 'POST',
          url: '/v1/transactions/topup',
          headers: { ...bearer(customer), [header]: text },
          payload: { amount: 1000 },
        });
        expectField(response, `headers.${header}`);
        assert.deepEqual(await footprint(), before);
      }
    }
  });

  test('a NUL in a query value or a path parameter is named, on public and authenticated routes', async () => {
    expectField(await app.inject({ method: 'GET', url: '/v1/dev/outbox?to=%00' }), 'querystring.to');
    expectField(
      await app.inject({ method: 'GET', url: '/v1/transactions?cursor=a%00b', headers: bearer(customer) }),
      'querystring.cursor',
    );
    expectField(
      await app.inject({ method: 'GET', url: '/v1/admin/users/%00', headers: bearer(staff) }),
      'params.id',
    );
  });

  test('a uuid in urn form (ajv-formats accepts it, PostgreSQL does not) is refused', async () => {
    const response = await app.inject({
      method: 'GET',
      url: `/v1/admin/users/urn:uuid:${customer.userId}`,
      headers: bearer(staff),
    });
    expectField(response, 'params.id');
  });
});

describe(`dates and numbers in query strings (${testEngine})`, () => {
  const impossible = [
    '0000-01-01T00:00:00Z',
    '2026-99-01T00:00:00Z',
    '2026-02-30T00:00:00Z',
    '10000-01-01T00:00:00Z',
    '2026-01-01T00:00:00+23:59',
    '2026-12-31T23:59:60Z',
  ];
  for (const url of ['/v1/transactions', '/v1/admin/users/{customer}/transactions']) {
    test(`regression (issue 7 item 11): ${url} with an impossible from or to answers 400, not 500`, async () => {
      const path = url.replace('{customer}', customer.userId);
      const principal = url.includes('admin') ? staff : customer;
      for (const value of impossible) {
        for (const name of ['from', 'to']) {
          const response = await app.inject({
            method: 'GET',
            url: `${path}?${name}=${encodeURIComponent(value)}`,
            headers: bearer(principal),
          });
          expectField(response, `querystring.${name}`);
        }
      }
      const valid = await app.inject({
        method: 'GET',
        url: `${path}?from=${encodeURIComponent('2024-02-29T00:00:00+14:00')}&to=${encodeURIComponent('9999-12-31T23:59:59Z')}`,
        headers: bearer(principal),
      });
      assert.equal(valid.statusCode, 200, valid.body);
    });
  }

  const numeric: { url: string; name: string; staff: boolean }[] = [
    { url: '/v1/transactions', name: 'limit', staff: false },
    { url: '/v1/admin/users', name: 'limit', staff: true },
    { url: '/v1/admin/users', name: 'status', staff: true },
    { url: '/v1/admin/kyc', name: 'limit', staff: true },
    { url: '/v1/admin/operations/statistics', name: 'days', staff: true },
  ];
  for (const item of numeric) {
    test(`regression (issue 7 item 11): ${item.url}?${item.name}= huge, infinite, hexadecimal, padded or unsafe answers 400`, async () => {
      for (const value of [
        '1e400',
        'Infinity',
        '9007199254740993',
        '99999999999999999999',
        '0x10',
        '%201',
        '1.5',
        '-1',
      ]) {
        const response = await app.inject({
          method: 'GET',
          url: `${item.url}?${item.name}=${value}`,
          headers: bearer(item.staff ? staff : customer),
        });
        expectField(response, `querystring.${item.name}`);
      }
      const plain = await app.inject({
        method: 'GET',
        url: `${item.url}?${item.name}=1`,
        headers: bearer(item.staff ? staff : customer),
      });
      assert.equal(plain.statusCode, 200, plain.body);
    });
  }

  test('a JSON amount of 1e400 (Infinity after parsing) or beyond 2^53 is refused before any money moves', async () => {
    for (const amount of ['1e400', '9007199254740993', '1.5', '-0']) {
      const before = await footprint();
      const response = await app.inject({
        method: 'POST',
        url: '/v1/transactions/topup',
        headers: { ...bearer(customer), 'content-type': 'application/json' },
        payload: `{"amount": ${amount}}`,
      });
      expectField(response, 'body.amount');
      assert.deepEqual(await footprint(), before);
    }
  });
});
