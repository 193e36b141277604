import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import type { AppInstance } from '../../src/app.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { locateAddress } from '../../src/platform/geolocation.ts';
import {
  bearer,
  ensureTenant,
  type LoggedInCustomer,
  latestCode,
  loginCustomer,
  testMotherName,
  testPin,
} from '../helpers/auth.ts';
import { answerCode } from '../helpers/responses.ts';
import { createHarness, type Harness } from '../identity/harness.ts';

/*
 * Issue 10 item 3, the geographic rules: a successful login from a country none of the user's located
 * logins of the lookback came from (new_country_login: step-up and the event), and two logins from
 * different countries too far apart for the time between them (impossible_travel: step-up and an
 * incident). Locations come from the GeoIP data of the client address, which TRUST_PROXY lets the test
 * set through X-Forwarded-For. geoip-lite maps 81.2.69.160 (St Albans) and 2.125.160.216 (Plymouth)
 * to GB and 202.12.27.33 to JP (Tokyo, about 9,500 km away).
 */

const britain = '81.2.69.160';
const britainAgain = '2.125.160.216';
const japan = '202.12.27.33';

let harness: Harness;
let app: AppInstance;
let tenantId: string;

before(async () => {
  harness = await createHarness({
    DETECTION_ENABLED: 'true',
    TRUST_PROXY: 'true',
    DETECTION_BLOCK_CACHE_MS: '200',
    DETECTION_INLINE_REPEAT_MS: '50',
  });
  app = harness.app;
  tenantId = await ensureTenant(app);
});

after(async () => {
  await harness.close();
});

function scoped<T>(work: Parameters<typeof withScope<T>>[2]): Promise<T> {
  return withScope(harness.database.db, { tenantId }, work);
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(25);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Lets every inline run started by the requests so far finish (onResponse runs after inject resolves). */
async function quiet(): Promise<void> {
  await sleep(150);
  await app.detection.settled();
}

function threatsOfUser(userId: string) {
  return scoped((transaction) =>
    transaction
      .selectFrom('threat_events')
      .selectAll()
      .where(sql<boolean>`${userId}::uuid = any(affected_user_ids)`)
      .orderBy('created_at')
      .execute(),
  );
}

async function rulesFired(userId: string): Promise<string[]> {
  return [...new Set((await threatsOfUser(userId)).map((row) => row.threat_type))].sort();
}

/** The geographic rules only: a login from another address is also a new address, which is not this suite's. */
async function geoRulesFired(userId: string): Promise<string[]> {
  return (await rulesFired(userId)).filter((rule) => rule !== 'new_address_login');
}

/** The banking login of an existing customer through a proxy that names the client's address. */
async function loginFrom(customer: LoggedInCustomer, forwardedFor: string) {
  const headers = { 'x-forwarded-for': forwardedFor };
  const login = await app.inject({
    method: 'POST',
    url: '/v1/auth/banking/login',
    headers,
    payload: {
      name: customer.name,
      phone: customer.phone,
      account_number: customer.accountNumber,
      mother_name: testMotherName,
      pin: testPin,
      device: { type: 'android', id: `device-${customer.phone}`, name: 'Test Phone' },
    },
  });
  assert.equal(login.statusCode, 200, login.body);
  const { login_token } = login.json() as { login_token: string };
  const verify = await app.inject({
    method: 'POST',
    url: '/v1/auth/banking/verify',
    headers,
    payload: { login_token, otp: await latestCode(app, customer.phone) },
  });
  assert.equal(verify.statusCode, 200, verify.body);
  return { ...customer, accessToken: (verify.json() as { access_token: string }).access_token };
}

async function funded(amount: number): Promise<LoggedInCustomer> {
  const customer = await loginCustomer(app);
  const topUp = await app.inject({
    method: 'POST',
    url: '/v1/transactions/topup',
    headers: { ...bearer(customer), 'idempotency-key': randomUUID() },
    payload: { amount },
  });
  assert.equal(topUp.statusCode, 201, topUp.body);
  return customer;
}

function transfer(from: { accessToken: string }, to: LoggedInCustomer, amount: number) {
  return app.inject({
    method: 'POST',
    url: '/v1/transactions/transfer',
    headers: { ...bearer(from), 'idempotency-key': randomUUID() },
    payload: { to_account_number: to.accountNumber, amount },
  });
}

/** The user's successful located logins, oldest first, as the login wrote them. */
function locatedLoginsOf(userId: string) {
  return scoped((transaction) =>
    transaction
      .selectFrom('login_audits')
      .select(['id', 'created_at', 'device_info'])
      .where('user_id', '=', userId)
      .where('status', '=', 'success')
      .where(sql<boolean>`device_info ? 'country'`)
      .orderBy('created_at')
      .execute(),
  );
}

/**
 * A successful login of the user from the address, written as the login writes it but `hoursAgo` in
 * the past (login_audits is append-only, so an earlier login is inserted, not moved back).
 */
async function pastLogin(userId: string, address: string, hoursAgo: number): Promise<void> {
  const location = locateAddress(address);
  assert.ok(location, `${address} is located`);
  await scoped((transaction) =>
    transaction
      .insertInto('login_audits')
      .values({
        tenant_id: tenantId,
        user_id: userId,
        login_type: 'user_login',
        status: 'success',
        ip_address: address,
        device_info: JSON.stringify({
          method: 'banking_pin',
          country: location.country,
          latitude: location.latitude,
          longitude: location.longitude,
          accuracy_radius_km: location.accuracyRadiusKm,
        }),
        created_at: sql<Date>`now() - make_interval(hours => ${hoursAgo}::integer)`,
      })
      .execute(),
  );
}

describe('new-country login', () => {
  test('a login from a second country: a threat, its security event, and a step-up enforced on a transfer', async () => {
    const victim = await funded(100_000);
    const payee = await loginCustomer(app);
    // Two days ago: Tokyo was then reachable, so only the country is new.
    await pastLogin(victim.userId, britain, 48);
    const abroad = await loginFrom(victim, japan);
    await waitFor(
      async () => (await geoRulesFired(victim.userId)).includes('new_country_login'),
      'the new-country threat',
    );
    await quiet();
    await app.detection.sweep();
    assert.deepEqual(await geoRulesFired(victim.userId), ['new_country_login'], 'no travel over two days');
    const threat = (await threatsOfUser(victim.userId)).find(
      (row) => row.threat_type === 'new_country_login',
    );
    assert.ok(threat);
    assert.equal(threat.severity, 'medium');
    assert.equal(threat.response_action, 'step_up');
    assert.equal(threat.detection_method, 'rule_based');
    assert.ok(threat.indicators.includes('country:JP'), JSON.stringify(threat.indicators));
    assert.ok(threat.indicators.includes(`ip:${japan}`));
    const events = await scoped((transaction) =>
      transaction
        .selectFrom('security_events')
        .select(['event_category', 'severity', 'ip_address', 'action_taken', 'details'])
        .where('event_type', '=', 'THREAT_DETECTED')
        .where('threat_type', '=', 'new_country_login')
        .where('user_id', '=', victim.userId)
        .execute(),
    );
    assert.equal(events.length, 1);
    assert.equal(events[0]?.event_category, 'threat');
    assert.equal(events[0]?.severity, 'medium');
    assert.equal(events[0]?.ip_address, japan);
    assert.equal(events[0]?.action_taken, 'challenge');
    assert.equal((events[0]?.details as { threat_id?: string } | undefined)?.threat_id, threat.id);
    const refused = await transfer(abroad, payee, 1_000);
    assert.equal(refused.statusCode, 403, refused.body);
    assert.equal(answerCode(refused), 'STEP_UP_REQUIRED');
  });

  test('normal traffic: a second login from the same country, and logins from private addresses, fire nothing', async () => {
    const owner = await loginCustomer(app);
    await pastLogin(owner.userId, britain, 48);
    await loginFrom(owner, britainAgain);
    await loginFrom(owner, `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`);
    await loginFrom(owner, '127.0.0.1');
    await quiet();
    await app.detection.sweep();
    assert.deepEqual(await geoRulesFired(owner.userId), []);
    assert.equal((await locatedLoginsOf(owner.userId)).length, 2, 'private addresses are never located');
  });

  test('normal traffic: a first-ever login from abroad is nobody’s new country, inline or in the sweep', async () => {
    const customer = await loginCustomer(app);
    const foreigner = await loginFrom(customer, japan);
    assert.ok(foreigner.accessToken);
    await quiet();
    await app.detection.sweep();
    assert.deepEqual(await geoRulesFired(customer.userId), []);
  });

  test('a user whose every earlier login came from a private address has no country to be new against', async () => {
    const customer = await loginCustomer(app);
    await loginFrom(customer, '192.168.1.20');
    await loginFrom(customer, britain);
    await quiet();
    await app.detection.sweep();
    assert.deepEqual(await geoRulesFired(customer.userId), []);
  });
});

describe('impossible travel', () => {
  test('logins from Britain and Japan minutes apart: a threat, step-up and an incident', async () => {
    const victim = await loginCustomer(app);
    await loginFrom(victim, britain);
    await quiet();
    assert.deepEqual(
      await geoRulesFired(victim.userId),
      [],
      'the first located login has no country to be new against',
    );
    const [home] = await locatedLoginsOf(victim.userId);
    const stored = home?.device_info as Record<string, unknown> | null;
    assert.equal(stored?.country, 'GB');
    assert.equal(typeof stored?.latitude, 'number', 'the login keeps its coordinates');
    assert.equal(stored?.accuracy_radius_km, 100);
    await loginFrom(victim, japan);
    await waitFor(
      async () => (await geoRulesFired(victim.userId)).includes('impossible_travel'),
      'the impossible-travel threat',
    );
    await quiet();
    await app.detection.sweep();
    assert.deepEqual(await geoRulesFired(victim.userId), ['impossible_travel', 'new_country_login']);
    const threat = (await threatsOfUser(victim.userId)).find(
      (row) => row.threat_type === 'impossible_travel',
    );
    assert.ok(threat);
    assert.equal(threat.severity, 'high');
    assert.equal(threat.response_action, 'step_up');
    assert.ok(threat.indicators.includes('from:GB') && threat.indicators.includes('to:JP'));
    const distance = Number(threat.indicators.find((item) => item.startsWith('distance_km:'))?.slice(12));
    assert.ok(distance > 8000 && distance < 9600, `St Albans to Tokyo less the accuracy radii: ${distance}`);
    const incidents = await scoped((transaction) =>
      transaction
        .selectFrom('security_incidents')
        .select(['incident_type', 'severity'])
        .where(sql<boolean>`${threat.id}::uuid = any(related_threat_ids)`)
        .execute(),
    );
    assert.deepEqual(incidents, [{ incident_type: 'impossible_travel', severity: 'high' }]);
    const pending = await scoped((transaction) =>
      transaction
        .selectFrom('step_up_requirements')
        .select('satisfied_at')
        .where('user_id', '=', victim.userId)
        .executeTakeFirst(),
    );
    assert.equal(pending?.satisfied_at, null, 'a step-up is owed');
  });

  test('normal traffic: the same two countries a day apart is no impossible travel, only a new country', async () => {
    const traveller = await loginCustomer(app);
    await pastLogin(traveller.userId, britain, 24);
    await loginFrom(traveller, japan);
    await waitFor(
      async () => (await geoRulesFired(traveller.userId)).includes('new_country_login'),
      'the new-country threat',
    );
    await quiet();
    await app.detection.sweep();
    assert.deepEqual(await geoRulesFired(traveller.userId), ['new_country_login']);
  });

  test('normal traffic: two places in one country minutes apart are no travel between countries', async () => {
    const commuter = await loginCustomer(app);
    await loginFrom(commuter, britain);
    await loginFrom(commuter, britainAgain);
    await quiet();
    await app.detection.sweep();
    assert.deepEqual(await geoRulesFired(commuter.userId), []);
  });
});
