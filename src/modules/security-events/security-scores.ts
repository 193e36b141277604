import assert from 'node:assert/strict';
import type { Severity } from '../../db/schema.ts';

/**
 * The scores of a security event (issue 10 item 1; seed 003 risk_score, fraud_score, anomaly_score),
 * each 0–100, from the signals at hand when the event is written. A pure function of its inputs: the
 * table of rules is in docs/security.md ("Security event scores") and every rule is one line below.
 */
export interface SecuritySignals {
  /** The user has logged in successfully before (without history nothing is "new" for them). */
  hasHistory: boolean;
  /** This address has logged in successfully as this user before (null: no address or no user). */
  knownAddress: boolean | null;
  /** This device fingerprint has (null: the client sent none, or no user). */
  knownDevice: boolean | null;
  /** A login from this country has (null: the address has no location, or no user). */
  knownCountry: boolean | null;
  /** Failed logins of the user (or, without a user, from the address) in the last hour, before this event. */
  recentFailures: number;
  /** The address or identity matched an active threat-intelligence indicator. */
  indicatorHit: boolean;
}

/** What the event is, as far as the scores care. */
export type EventWeight = 'routine' | 'failure' | 'sensitive_change' | 'lock' | 'token_theft';

export interface SecurityScores {
  riskScore: number;
  fraudScore: number;
  anomalyScore: number;
}

/** A signal-free event: nothing is new, nothing failed. */
export const noSignals: SecuritySignals = {
  hasHistory: false,
  knownAddress: null,
  knownDevice: null,
  knownCountry: null,
  recentFailures: 0,
  indicatorHit: false,
};

const baseRisk: Record<EventWeight, number> = {
  routine: 0,
  failure: 20,
  sensitive_change: 10,
  lock: 60,
  token_theft: 80,
};

const failurePoints = 5;
const failurePointsMax = 30;

function clamp(score: number): number {
  return Math.max(0, Math.min(100, Math.round(score)));
}

/** New for this user: only a user with history has anything that can be new. */
function isNew(signals: SecuritySignals, known: boolean | null): boolean {
  return signals.hasHistory && known === false;
}

export function securityScores(weight: EventWeight, signals: SecuritySignals): SecurityScores {
  assert.ok(Number.isInteger(signals.recentFailures) && signals.recentFailures >= 0, 'failure count');
  const newAddress = isNew(signals, signals.knownAddress);
  const newDevice = isNew(signals, signals.knownDevice);
  const newCountry = isNew(signals, signals.knownCountry);
  const failures = Math.min(signals.recentFailures * failurePoints, failurePointsMax);
  const risk =
    baseRisk[weight] +
    (newAddress ? 20 : 0) +
    (newDevice ? 20 : 0) +
    (newCountry ? 25 : 0) +
    failures +
    (signals.indicatorHit ? 40 : 0);
  // Fraud: an account-takeover shape, a stranger's device and address together, worst on a change of
  // credentials; repeated failures and an indicator hit add to it.
  const stranger = newAddress && newDevice;
  const fraud =
    (stranger ? 30 : 0) +
    (stranger && weight === 'sensitive_change' ? 30 : 0) +
    (newCountry ? 15 : 0) +
    (signals.recentFailures >= 3 ? 20 : 0) +
    (signals.indicatorHit ? 40 : 0) +
    (weight === 'token_theft' ? 60 : 0);
  // Anomaly: how far this is from the user's own history.
  const anomaly =
    (newAddress ? 30 : 0) + (newDevice ? 30 : 0) + (newCountry ? 40 : 0) + (signals.hasHistory ? 0 : 10);
  return { riskScore: clamp(risk), fraudScore: clamp(fraud), anomalyScore: clamp(anomaly) };
}

const severityOrder: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

/** The event's severity: its type's floor, raised by the risk score (≥ 40 medium, ≥ 70 high, ≥ 90 critical). */
export function severityFor(floor: Severity, riskScore: number): Severity {
  const byRisk: Severity =
    riskScore >= 90 ? 'critical' : riskScore >= 70 ? 'high' : riskScore >= 40 ? 'medium' : 'low';
  return severityOrder.indexOf(byRisk) > severityOrder.indexOf(floor) ? byRisk : floor;
}
