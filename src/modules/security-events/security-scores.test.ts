import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  type EventWeight,
  noSignals,
  type SecuritySignals,
  securityScores,
  severityFor,
} from './security-scores.ts';

const known: SecuritySignals = {
  hasHistory: true,
  knownAddress: true,
  knownDevice: true,
  knownCountry: true,
  recentFailures: 0,
  indicatorHit: false,
};

test('a routine event from a known device, address and country scores zero risk, fraud and anomaly', () => {
  assert.deepEqual(securityScores('routine', known), { riskScore: 0, fraudScore: 0, anomalyScore: 0 });
});

test('each rule adds its points (docs/security.md, "Security event scores")', () => {
  assert.equal(securityScores('routine', { ...known, knownAddress: false }).riskScore, 20);
  assert.equal(securityScores('routine', { ...known, knownDevice: false }).riskScore, 20);
  assert.equal(securityScores('routine', { ...known, knownCountry: false }).riskScore, 25);
  assert.equal(securityScores('failure', { ...known, recentFailures: 2 }).riskScore, 30);
  assert.equal(securityScores('failure', { ...known, recentFailures: 50 }).riskScore, 50);
  assert.equal(securityScores('routine', { ...known, indicatorHit: true }).riskScore, 40);
  assert.equal(securityScores('lock', known).riskScore, 60);
  const stranger = { ...known, knownAddress: false, knownDevice: false };
  assert.equal(securityScores('routine', stranger).fraudScore, 30);
  assert.equal(securityScores('sensitive_change', stranger).fraudScore, 60);
  assert.equal(securityScores('routine', stranger).anomalyScore, 60);
});

test('without history nothing is new: a first login is not scored as a stranger', () => {
  const first = { ...noSignals, knownAddress: false, knownDevice: false, knownCountry: false };
  assert.deepEqual(securityScores('routine', first), { riskScore: 0, fraudScore: 0, anomalyScore: 10 });
});

test('a missing fingerprint or location is unknown, not new', () => {
  const scores = securityScores('routine', { ...known, knownDevice: null, knownCountry: null });
  assert.equal(scores.riskScore, 0);
});

test('every score stays within 0..100 whatever the signals', () => {
  const weights: EventWeight[] = ['routine', 'failure', 'sensitive_change', 'lock', 'token_theft'];
  const tri = fc.constantFrom(true, false, null);
  fc.assert(
    fc.property(
      fc.constantFrom(...weights),
      fc.record({
        hasHistory: fc.boolean(),
        knownAddress: tri,
        knownDevice: tri,
        knownCountry: tri,
        recentFailures: fc.nat(10_000),
        indicatorHit: fc.boolean(),
      }),
      (weight, signals) => {
        for (const score of Object.values(securityScores(weight, signals))) {
          assert.ok(Number.isInteger(score) && score >= 0 && score <= 100);
        }
      },
    ),
  );
});

test('severity is the type floor raised by the risk score', () => {
  assert.equal(severityFor('low', 10), 'low');
  assert.equal(severityFor('low', 45), 'medium');
  assert.equal(severityFor('medium', 10), 'medium');
  assert.equal(severityFor('low', 75), 'high');
  assert.equal(severityFor('high', 95), 'critical');
});
