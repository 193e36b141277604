import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { withScope } from '../../src/db/tenant-transaction.ts';
import {
  archiveCategories,
  produceDataExports,
} from '../../src/modules/data-exports/data-exports.service.ts';
import { checkLedger } from '../../src/modules/ledger/ledger-check.ts';
import { sealPendingAudits } from '../../src/platform/audit/audit-sealer.ts';
import { verifyAuditChains } from '../../src/platform/audit/audit-verifier.ts';
import {
  bearer,
  ensureTenant,
  type LoggedInCustomer,
  latestCode,
  loginCustomer,
  loginStaff,
  randomAccountNumber,
  randomPhone,
} from '../helpers/auth.ts';
import { createHarness, type Harness, secretsNeverLeakTest } from './harness.ts';

/*
 * GDPR (issue 11 item 5): a customer's export holds every category and no secret; erasure anonymizes
 * every personal value of the customer in every table while `ledger check` and `audit verify` pass;
 * erasure is refused while money or a withdrawal remains; a raw change of an erased audit row still
 * fails verification.
 */

let harness: Harness;
let tenantId: string;

before(async () => {
  harness = await createHarness({ SMS_SENDS_PER_PHONE_MAX: '20' });
  tenantId = await ensureTenant(harness.app);
});

after(async () => {
  await harness.close();
});

interface Client {
  ip: string;
  userAgent: string;
}

interface GdprCustomer extends LoggedInCustomer {
  client: Client;
}

let clientCount = 0;

/**
 * A client no other customer of this file shares: three-digit last octets, so one address is never a
 * substring of another (the scan below matches substrings).
 */
function uniqueClient(): Client {
  clientCount += 1;
  assert.ok(clientCount < 100, 'more clients than three-digit octets');
  return {
    ip: `198.51.100.${100 + clientCount}`,
    userAgent: `GdprTestAgent/${randomInt(100_000, 999_999)}-${100 + clientCount} (erasure-scan)`,
  };
}

/** A banking login from one address and user agent, with personal values no other test customer has. */
async function loginFrom(client: Client): Promise<GdprCustomer> {
  const { app } = harness;
  const suffix = String(randomInt(100_000, 999_999));
  const customer = {
    phone: randomPhone(),
    accountNumber: randomAccountNumber(),
    name: `Gdpr Person ${suffix}`,
    motherName: `Gdpr Mother ${suffix}`,
  };
  const headers = { 'user-agent': client.userAgent };
  const login = await app.inject({
    method: 'POST',
    url: '/v1/auth/banking/login',
    remoteAddress: client.ip,
    headers,
    payload: {
      name: customer.name,
      phone: customer.phone,
      account_number: customer.accountNumber,
      mother_name: customer.motherName,
      pin: '482916',
      device: { type: 'android', id: `gdpr-device-${suffix}`, name: `Gdpr Phone ${suffix}` },
    },
  });
  assert.equal(login.statusCode, 200, login.body);
  const { login_token } = login.json() as { login_token: string };
  const otp = await latestCode(app, customer.phone);
  const verify = await app.inject({
    method: 'POST',
    url: '/v1/auth/banking/verify',
    remoteAddress: client.ip,
    headers,
    payload: { login_token, otp },
  });
  assert.equal(verify.statusCode, 200, verify.body);
  const body = verify.json() as {
    access_token: string;
    refresh_token: string;
    session_id: string;
    user: { id: string };
  };
  return {
    ...customer,
    accessToken: body.access_token,
    refreshToken: body.refresh_token,
    userId: body.user.id,
    sessionId: body.session_id,
    tenantId,
    pin: '482916',
    client,
  };
}

function as(customer: GdprCustomer, method: 'GET' | 'POST', url: string, payload?: object) {
  return harness.app.inject({
    method,
    url,
    remoteAddress: customer.client.ip,
    headers: { ...bearer(customer), 'user-agent': customer.client.userAgent },
    ...(payload ? { payload } : {}),
  });
}

function runExportJob() {
  return produceDataExports({ database: harness.database, config: harness.config });
}

function seal() {
  return sealPendingAudits(harness.database.db, {
    key: harness.config.auditHmacKey,
    keyId: harness.config.auditHmacKeyId,
  });
}

function verifyChains() {
  return verifyAuditChains(
    harness.database.db,
    new Map([[harness.config.auditHmacKeyId, harness.config.auditHmacKey]]),
  );
}

async function securityEventTypes(userId: string): Promise<string[]> {
  const rows = await sql<{ event_type: string }>`
    select event_type from security_events where user_id = ${userId} order by created_at`.execute(
    harness.database.db,
  );
  return rows.rows.map((row) => row.event_type);
}

describe('data export', () => {
  test('an export is requested (202, once at a time), produced by the job and downloaded by its owner only', async () => {
    const customer = await loginFrom(uniqueClient());
    assert.equal((await as(customer, 'POST', '/v1/transactions/topup', { amount: 1_200 })).statusCode, 201);
    const requested = await as(customer, 'POST', '/v1/me/data-export');
    assert.equal(requested.statusCode, 202, requested.body);
    const { id } = requested.json() as { id: string };
    const again = await as(customer, 'POST', '/v1/me/data-export');
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().error.code, 'DATA_EXPORT_PENDING');
    const early = await as(customer, 'GET', `/v1/me/data-export/${id}/download`);
    assert.equal(early.statusCode, 409);
    assert.equal(early.json().error.code, 'DATA_EXPORT_NOT_READY');

    assert.ok((await runExportJob()) >= 1);
    const status = await as(customer, 'GET', `/v1/me/data-export/${id}`);
    assert.equal(status.json().status, 'ready', status.body);
    const download = await as(customer, 'GET', `/v1/me/data-export/${id}/download`);
    assert.equal(download.statusCode, 200, download.body);
    assert.match(String(download.headers['content-type']), /application\/json/);
    const archive = download.json() as { sections: Record<string, unknown> };
    assert.equal(archiveCategories.length, 9);
    for (const category of archiveCategories) {
      assert.ok(category in archive.sections, `the export has no ${category} section`);
    }
    const sections = archive.sections as Record<string, unknown[]>;
    for (const category of ['wallets', 'statement', 'sessions', 'login_history', 'audit_entries']) {
      assert.ok((sections[category]?.length ?? 0) > 0, `the ${category} section is empty`);
    }
    assert.ok(download.body.includes(customer.name) && download.body.includes(customer.phone));
    assert.ok(download.body.includes(customer.client.ip), 'the login history names the address');
    for (const secret of ['pin_hash', 'password_hash', 'token_hash', 'mfa_secret', 'code_hash', 'otp_hash']) {
      assert.ok(!download.body.includes(secret), `the export holds ${secret}`);
    }
    assert.equal(download.headers['x-content-sha256'], status.json().sha256);

    const stranger = await loginFrom(uniqueClient());
    assert.equal((await as(stranger, 'GET', `/v1/me/data-export/${id}`)).statusCode, 404);
    assert.equal((await as(stranger, 'GET', `/v1/me/data-export/${id}/download`)).statusCode, 404);
    assert.ok((await securityEventTypes(customer.userId)).includes('DATA_EXPORT_REQUESTED'));
  });

  test('concurrent requests make one export; concurrent jobs produce it once', async () => {
    const customer = await loginFrom(uniqueClient());
    const answers = await Promise.all([
      as(customer, 'POST', '/v1/me/data-export'),
      as(customer, 'POST', '/v1/me/data-export'),
    ]);
    assert.deepEqual(answers.map((answer) => answer.statusCode).sort(), [202, 409]);
    const [first, second] = await Promise.all([runExportJob(), runExportJob()]);
    assert.equal(first + second, 1);
  });

  test('a customer may request a few exports a day, then 429 DATA_EXPORT_RATE_LIMITED', async () => {
    const customer = await loginFrom(uniqueClient());
    for (let index = 0; index < 3; index += 1) {
      assert.equal((await as(customer, 'POST', '/v1/me/data-export')).statusCode, 202);
      await runExportJob();
    }
    const limited = await as(customer, 'POST', '/v1/me/data-export');
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.json().error.code, 'DATA_EXPORT_RATE_LIMITED');
  });
});

const erasureBody = (customer: LoggedInCustomer) => ({ pin: customer.pin, confirm: 'ERASE MY ACCOUNT' });

describe('erasure refusals', () => {
  test('a wrong PIN, a balance, a withdrawal in flight are refused with their codes; nothing is erased', async () => {
    const customer = await loginFrom(uniqueClient());
    const wrong = await as(customer, 'POST', '/v1/me/erasure', {
      pin: '000000',
      confirm: 'ERASE MY ACCOUNT',
    });
    assert.equal(wrong.statusCode, 401);
    const unconfirmed = await as(customer, 'POST', '/v1/me/erasure', { pin: customer.pin, confirm: 'yes' });
    assert.equal(unconfirmed.statusCode, 400);

    assert.equal((await as(customer, 'POST', '/v1/transactions/topup', { amount: 5_000 })).statusCode, 201);
    const holding = await as(customer, 'POST', '/v1/me/erasure', erasureBody(customer));
    assert.equal(holding.statusCode, 409);
    assert.equal(holding.json().error.code, 'ERASURE_BALANCE_NOT_ZERO');

    const friend = await loginCustomer(harness.app);
    const sent = await as(customer, 'POST', '/v1/transactions/transfer', {
      to_account_number: friend.accountNumber,
      amount: 5_000,
    });
    assert.equal(sent.statusCode, 201, sent.body);
    const wallet = await sql<{ id: string; asset_code: string }>`
      select id, asset_code from wallets where user_id = ${customer.userId} limit 1`.execute(
      harness.database.db,
    );
    const row = wallet.rows[0];
    assert.ok(row);
    await sql`insert into operations (tenant_id, user_id, wallet_id, asset_code, operation_type, status, amount)
      values (${tenantId}, ${customer.userId}, ${row.id}, ${row.asset_code}, 'withdrawal', 'pending', 100)`.execute(
      harness.database.db,
    );
    const inFlight = await as(customer, 'POST', '/v1/me/erasure', erasureBody(customer));
    assert.equal(inFlight.statusCode, 409);
    assert.equal(inFlight.json().error.code, 'ERASURE_WITHDRAWAL_PENDING');
    const user = await sql<{ name: string }>`select name from users where id = ${customer.userId}`.execute(
      harness.database.db,
    );
    assert.equal(user.rows[0]?.name, customer.name, 'a refused erasure changed nothing');
  });

  test('a legal hold refuses erasure (409 LEGAL_HOLD_ACTIVE) for the customer and staff until it is released', async () => {
    const customer = await loginFrom(uniqueClient());
    const admin = await loginStaff(harness.app, 'admin');
    const placed = await harness.app.inject({
      method: 'POST',
      url: '/v1/admin/legal-holds',
      headers: bearer(admin),
      payload: { user_id: customer.userId, reason: 'Court order: preserve account records' },
    });
    assert.equal(placed.statusCode, 201, placed.body);
    const own = await as(customer, 'POST', '/v1/me/erasure', erasureBody(customer));
    assert.equal(own.statusCode, 409);
    assert.equal(own.json().error.code, 'LEGAL_HOLD_ACTIVE');
    const byStaff = () =>
      harness.app.inject({
        method: 'POST',
        url: `/v1/admin/users/${customer.userId}/erasure`,
        headers: bearer(admin),
      });
    const held = await byStaff();
    assert.equal(held.statusCode, 409);
    assert.equal(held.json().error.code, 'LEGAL_HOLD_ACTIVE');
    const { id } = placed.json() as { id: string };
    const released = await harness.app.inject({
      method: 'POST',
      url: `/v1/admin/legal-holds/${id}/release`,
      headers: bearer(admin),
      payload: { reason: 'Case closed' },
    });
    assert.equal(released.statusCode, 200, released.body);
    assert.equal((await byStaff()).statusCode, 200);
  });

  test('staff erasure needs compliance:manage', async () => {
    const customer = await loginFrom(uniqueClient());
    const officer = await loginStaff(harness.app, 'officer');
    const refused = await harness.app.inject({
      method: 'POST',
      url: `/v1/admin/users/${customer.userId}/erasure`,
      headers: bearer(officer),
    });
    assert.equal(refused.statusCode, 403);
  });
});

/** Every text, JSON, array and address column of every table (partitions are read through their parent). */
async function personalColumns(): Promise<{ table: string; column: string }[]> {
  const rows = await sql<{ table_name: string; column_name: string }>`
    select c.table_name, c.column_name
    from information_schema.columns c
    join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
    where c.table_schema = 'public' and t.table_type = 'BASE TABLE'
      and not exists (select 1 from pg_inherits i where i.inhrelid = (quote_ident(c.table_name))::regclass)
      and c.data_type in ('text', 'character varying', 'character', 'jsonb', 'json', 'inet', 'ARRAY')
    order by 1, 2`.execute(harness.database.db);
  return rows.rows.map((row) => ({ table: row.table_name, column: row.column_name }));
}

async function findPersonalValues(values: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const { table, column } of await personalColumns()) {
    for (const value of values) {
      const hit = await sql<{ count: number }>`
        select count(*)::int as count from ${sql.table(table)}
        where strpos(lower(${sql.ref(column)}::text), lower(${value})) > 0`.execute(harness.database.db);
      if ((hit.rows[0]?.count ?? 0) > 0) found.push(`${table}.${column} holds "${value}"`);
    }
  }
  return found;
}

describe('erasure', () => {
  let customer: GdprCustomer;
  let personal: string[];

  before(async () => {
    customer = await loginFrom(uniqueClient());
    const email = `gdpr-${randomInt(1_000_000, 9_999_999)}@example.test`;
    await sql`update users set email = ${email} where id = ${customer.userId}`.execute(harness.database.db);
    personal = [
      customer.name,
      customer.phone,
      email,
      customer.motherName,
      customer.client.ip,
      customer.client.userAgent,
    ];
    assert.equal((await as(customer, 'GET', '/v1/me')).statusCode, 200);
    assert.equal((await as(customer, 'POST', '/v1/transactions/topup', { amount: 2_500 })).statusCode, 201);
    const friend = await loginCustomer(harness.app);
    const sent = await as(customer, 'POST', '/v1/transactions/transfer', {
      to_account_number: friend.accountNumber,
      amount: 2_500,
    });
    assert.equal(sent.statusCode, 201, sent.body);
    assert.equal((await as(customer, 'POST', '/v1/me/data-export')).statusCode, 202);
    await runExportJob();
    // Some of the customer's audit rows sealed before the erasure, some not.
    assert.ok((await seal()) > 0);
    assert.equal((await as(customer, 'GET', '/v1/me/sessions')).statusCode, 200);
    assert.deepEqual(await findPersonalValues([customer.name]).then((found) => found.length > 0), true);
  });

  test('erasure by the customer: no personal value remains in any table, ledger check and audit verify pass', async () => {
    const erased = await as(customer, 'POST', '/v1/me/erasure', erasureBody(customer));
    assert.equal(erased.statusCode, 200, erased.body);
    assert.ok((erased.json() as { audit_entries_erased: number }).audit_entries_erased > 0);
    await seal();
    assert.deepEqual(await findPersonalValues(personal), []);
    const ledger = await checkLedger(harness.database.db);
    assert.equal(ledger.problem, undefined);
    const chains = await verifyChains();
    assert.equal(chains.problem, undefined, chains.problem?.message);
    const attested = await sql<{ count: number }>`
      select count(*)::int as count from audit_erasures`.execute(harness.database.db);
    assert.ok((attested.rows[0]?.count ?? 0) > 0, 'sealed rows were erased and attested');
    const entries = await sql<{ count: number }>`
      select count(*)::int as count from transactions where user_id = ${customer.userId}`.execute(
      harness.database.db,
    );
    assert.ok((entries.rows[0]?.count ?? 0) >= 2, 'the ledger keeps the entries of the erased customer');
    assert.ok((await securityEventTypes(customer.userId)).includes('ACCOUNT_DELETION_REQUESTED'));
  });

  test('after erasure the session is ended, the account closed, a second erasure refused', async () => {
    assert.equal((await as(customer, 'GET', '/v1/me')).statusCode, 401);
    const refresh = await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refresh_token: customer.refreshToken },
    });
    assert.equal(refresh.statusCode, 401);
    const user = await sql<{ status: number; deleted_at: Date | null }>`
      select status, deleted_at from users where id = ${customer.userId}`.execute(harness.database.db);
    assert.equal(user.rows[0]?.status, 0);
    assert.ok(user.rows[0]?.deleted_at);
    const admin = await loginStaff(harness.app, 'admin');
    const again = await harness.app.inject({
      method: 'POST',
      url: `/v1/admin/users/${customer.userId}/erasure`,
      headers: bearer(admin),
    });
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().error.code, 'ERASURE_ALREADY_DONE');
  });

  test('a raw change of an erased audit row (non-personal field, or personal field to a new value) fails verify', async () => {
    const rows = await sql<{ id: string; action: string }>`
      select a.id, a.action from audit_logs a join audit_erasures e on e.audit_log_id = a.id
      where a.user_id = ${customer.userId} limit 1`.execute(harness.database.db);
    const row = rows.rows[0];
    assert.ok(row);
    const tamper = async (statement: ReturnType<typeof sql>) =>
      harness.database.db.transaction().execute(async (transaction) => {
        await sql`set local session_replication_role = replica`.execute(transaction);
        await statement.execute(transaction);
      });
    await tamper(sql`update audit_logs set action = 'FORGED' where id = ${row.id}`);
    assert.equal((await verifyChains()).problem?.kind, 'altered');
    await tamper(sql`update audit_logs set action = ${row.action} where id = ${row.id}`);
    assert.equal((await verifyChains()).problem, undefined);
    await tamper(sql`update audit_logs set ip_address = '192.0.2.99' where id = ${row.id}`);
    assert.equal((await verifyChains()).problem?.kind, 'altered');
    await tamper(sql`update audit_logs set ip_address = null where id = ${row.id}`);
    assert.equal((await verifyChains()).problem, undefined);
  });

  test('the application role cannot rewrite the logs outside an erasure', async () => {
    await assert.rejects(
      withScope(harness.database.db, { tenantId }, (transaction) =>
        transaction
          .updateTable('login_audits')
          .set({ user_agent: null })
          .where('user_id', '=', customer.userId)
          .execute(),
      ),
      /append-only/,
    );
    await assert.rejects(
      withScope(harness.database.db, { tenantId }, (transaction) =>
        transaction
          .updateTable('audit_logs')
          .set({ user_agent: 'x' })
          .where('user_id', '=', customer.userId)
          .execute(),
      ),
      /append-only/,
    );
  });

  test('staff erasure (compliance:manage) is audited with the staff actor', async () => {
    const other = await loginFrom(uniqueClient());
    const admin = await loginStaff(harness.app, 'admin');
    const erased = await harness.app.inject({
      method: 'POST',
      url: `/v1/admin/users/${other.userId}/erasure`,
      headers: bearer(admin),
    });
    assert.equal(erased.statusCode, 200, erased.body);
    const audit = await sql<{ admin_id: string | null }>`
      select admin_id from audit_logs where user_id = ${other.userId} and action = 'ERASE_PERSONAL_DATA'`.execute(
      harness.database.db,
    );
    assert.equal(audit.rows[0]?.admin_id, admin.userId);
    await seal();
    assert.deepEqual(
      await findPersonalValues([other.name, other.phone, other.motherName, other.client.userAgent]),
      [],
    );
    assert.equal((await verifyChains()).problem, undefined);
  });
});

secretsNeverLeakTest(() => harness);
