import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../config/config.ts';
import {
  type AddressFailures,
  classifyLoginFailures,
  dedupKey,
  type Finding,
  greatCircleKm,
  isImpossibleTravel,
  type LoginPlace,
  loginFindings,
  travelBetween,
} from './detection.rules.ts';

const config = loadConfig({ NODE_ENV: 'test' }).security.detection;

function failures(failuresCount: number, accounts: number, accountFailures = failuresCount): AddressFailures {
  return { ip: '10.0.0.1', failures: failuresCount, accounts, accountFailures, userIds: [] };
}

test('the defaults are the issue’s: brute force at 5 failures, stuffing at 10 accounts, spraying at 5', () => {
  assert.deepEqual(
    [
      config.bruteForceFailuresMin,
      config.stuffingAccountsMin,
      config.sprayingAccountsMin,
      config.loginWindowMinutes,
    ],
    [5, 10, 5, 60],
  );
});

test('many failures against one account are brute force only', () => {
  assert.deepEqual(classifyLoginFailures(failures(5, 1), config), ['brute_force']);
  assert.deepEqual(classifyLoginFailures(failures(4, 1), config), []);
});

test('one try per account over many accounts is stuffing; a few tries per account is spraying', () => {
  assert.deepEqual(classifyLoginFailures(failures(10, 10), config), ['brute_force', 'credential_stuffing']);
  assert.deepEqual(classifyLoginFailures(failures(10, 5), config), ['brute_force', 'password_spraying']);
  assert.deepEqual(classifyLoginFailures(failures(9, 9), config), ['brute_force']);
  assert.deepEqual(classifyLoginFailures(failures(4, 4), config), []);
});

test('failures that named no account count for brute force only', () => {
  assert.deepEqual(classifyLoginFailures(failures(6, 0, 0), config), ['brute_force']);
});

test('a run is one dedup key per rule, subject and window; the next window is a new key', () => {
  const [finding] = loginFindings(failures(5, 1), config);
  assert.ok(finding);
  const windowMs = config.loginWindowMinutes * 60_000;
  const start = 1000 * windowMs;
  assert.equal(dedupKey(finding, config, start), dedupKey(finding, config, start + windowMs - 1));
  assert.notEqual(dedupKey(finding, config, start), dedupKey(finding, config, start + windowMs));
  assert.match(dedupKey(finding, config, start), /^brute_force:ip:10\.0\.0\.1:\d+$/);
});

test('a rule about one session or transaction has one key for good', () => {
  const [counted] = loginFindings(failures(5, 1), config);
  assert.ok(counted);
  const finding: Finding = { ...counted, rule: 'large_amount', subject: 'transaction:t1' };
  assert.equal(dedupKey(finding, config, 0), 'large_amount:transaction:t1');
  assert.equal(dedupKey(finding, config, 10 * 86_400_000), 'large_amount:transaction:t1');
});

test('a rule about one login has one key for good', () => {
  const [counted] = loginFindings(failures(5, 1), config);
  assert.ok(counted);
  const finding: Finding = { ...counted, rule: 'new_country_login', subject: 'login:l1' };
  assert.equal(dedupKey(finding, config, 0), dedupKey(finding, config, 10 * 86_400_000));
});

const london: LoginPlace = {
  country: 'GB',
  latitude: 51.5074,
  longitude: -0.1278,
  accuracyRadiusKm: 0,
  atMs: 0,
};
const newYork: LoginPlace = {
  country: 'US',
  latitude: 40.7128,
  longitude: -74.006,
  accuracyRadiusKm: 0,
  atMs: 0,
};

test('the great-circle distance London to New York is about 5,570 km', () => {
  const km = greatCircleKm(51.5074, -0.1278, 40.7128, -74.006);
  assert.ok(Math.abs(km - 5570) < 15, String(km));
  assert.equal(greatCircleKm(10, 20, 10, 20), 0);
});

test('impossible travel: faster than DETECTION_TRAVEL_SPEED_KMH_MAX (900) between two countries', () => {
  assert.equal(config.travelSpeedKmhMax, 900);
  const hour = 3_600_000;
  const soon = travelBetween(london, { ...newYork, atMs: 2 * hour });
  assert.ok(isImpossibleTravel(soon, config), JSON.stringify(soon));
  const flight = travelBetween(london, { ...newYork, atMs: 7 * hour });
  assert.ok(flight && !isImpossibleTravel(flight, config), JSON.stringify(flight));
  const instant = travelBetween(london, newYork);
  assert.ok(instant && Number.isFinite(instant.speedKmh) && isImpossibleTravel(instant, config));
});

test('travel is not measured within one country, without coordinates, or inside the accuracy radii', () => {
  assert.equal(travelBetween(london, { ...london, latitude: 50.36, longitude: -4.14 }), null);
  assert.equal(travelBetween(london, { ...newYork, latitude: null }), null);
  const vague = travelBetween(
    { ...london, accuracyRadiusKm: 3000 },
    { ...newYork, accuracyRadiusKm: 3000, atMs: 60_000 },
  );
  assert.equal(vague?.distanceKm, 0);
  assert.equal(isImpossibleTravel(vague, config), false);
});
