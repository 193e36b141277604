import assert from 'node:assert/strict';
import type { DetectionConfig } from '../../config/security-config.ts';
import type { Severity, ThreatResponseAction } from '../../db/schema.ts';

/**
 * The detection rules (issue 10 item 3) as pure decisions over what the repository counted. Which rows
 * each rule reads is in detection.repository.ts; the operator's table is docs/security.md
 * "Detection rules".
 */
export type RuleName =
  | 'brute_force'
  | 'credential_stuffing'
  | 'password_spraying'
  | 'new_address_login'
  | 'new_country_login'
  | 'impossible_travel'
  | 'account_takeover'
  | 'transaction_velocity'
  | 'large_amount'
  | 'repeated_forbidden';

export const ruleNames: readonly RuleName[] = [
  'brute_force',
  'credential_stuffing',
  'password_spraying',
  'new_address_login',
  'new_country_login',
  'impossible_travel',
  'account_takeover',
  'transaction_velocity',
  'large_amount',
  'repeated_forbidden',
];

/**
 * block: the address is refused for DETECTION_IP_BLOCK_MINUTES; lock: the account cannot log in for
 * DETECTION_ACCOUNT_LOCK_MINUTES; step_up: the next sensitive action needs a fresh second factor;
 * escalate: an incident is opened; alert: the security event is the alert (the sinks send critical ones).
 */
export type ResponseAction = ThreatResponseAction;

export interface RulePolicy {
  severity: Severity;
  /** The first is the threat's response_action; all of them run. */
  actions: readonly [ResponseAction, ...ResponseAction[]];
  confidence: number;
}

export const rulePolicies: Record<RuleName, RulePolicy> = {
  brute_force: { severity: 'high', actions: ['block'], confidence: 90 },
  credential_stuffing: { severity: 'critical', actions: ['block', 'escalate'], confidence: 85 },
  password_spraying: { severity: 'high', actions: ['block', 'escalate'], confidence: 75 },
  new_address_login: { severity: 'low', actions: ['alert'], confidence: 40 },
  new_country_login: { severity: 'medium', actions: ['step_up', 'alert'], confidence: 60 },
  impossible_travel: { severity: 'high', actions: ['step_up', 'escalate'], confidence: 80 },
  account_takeover: { severity: 'critical', actions: ['lock', 'step_up', 'escalate'], confidence: 80 },
  transaction_velocity: { severity: 'medium', actions: ['step_up'], confidence: 70 },
  large_amount: { severity: 'high', actions: ['alert'], confidence: 60 },
  repeated_forbidden: { severity: 'medium', actions: ['block'], confidence: 70 },
};

/** One detection before it is recorded: what fired, against whom, and the evidence. */
export interface Finding {
  rule: RuleName;
  /**
   * `ip:<address>`, `user:<id>` (counted over a window), `session:<id>`, `login:<login_audits id>` or
   * `transaction:<id>` (one event).
   */
  subject: string;
  description: string;
  /** Short `name:value` pieces of evidence (threat_events.indicators, varchar(500) each). */
  indicators: string[];
  userIds: string[];
  accountIds: string[];
  transactionIds: string[];
  /** The address to block when the rule's response blocks one. */
  ipAddress: string | null;
}

/** The window a rule's threats are deduplicated over, in minutes. */
export function ruleWindowMinutes(rule: RuleName, config: DetectionConfig): number {
  switch (rule) {
    case 'brute_force':
    case 'credential_stuffing':
    case 'password_spraying':
    case 'new_address_login':
    case 'new_country_login':
    case 'impossible_travel':
      return config.loginWindowMinutes;
    case 'account_takeover':
    case 'large_amount':
      return config.takeoverWindowMinutes;
    case 'transaction_velocity':
      return config.velocityWindowMinutes;
    case 'repeated_forbidden':
      return config.forbiddenWindowMinutes;
  }
}

/**
 * The key that makes one ongoing attack one threat; the unique index (migration 0014) decides it
 * atomically. A rule about one event (a session, a transaction) fires once per event, ever. A rule
 * that counts over a window (an address's failures, a user's transfers) adds the window of the clock
 * the detection fell in: a run that straddles a window boundary can make one threat per window, never
 * more.
 */
export function dedupKey(finding: Finding, config: DetectionConfig, nowMs: number): string {
  const windowMs = ruleWindowMinutes(finding.rule, config) * 60_000;
  const single = ['session:', 'login:', 'transaction:'].some((prefix) => finding.subject.startsWith(prefix));
  const key = single
    ? `${finding.rule}:${finding.subject}`
    : `${finding.rule}:${finding.subject}:${Math.floor(nowMs / windowMs)}`;
  assert.ok(key.length <= 300, 'a dedup key fits threat_events.dedup_key');
  return key;
}

/** Failed logins from one address in the login window (login_audits), as the repository counts them. */
export interface AddressFailures {
  ip: string;
  failures: number;
  /** Distinct accounts (known users, or the hashed identifier of an unknown one) among the failures. */
  accounts: number;
  /** Failures that named an account. */
  accountFailures: number;
  userIds: string[];
}

/**
 * Brute force: many failures from one address, whatever they aimed at. Credential stuffing and
 * password spraying both spread failures over many accounts; they differ in attempts per account:
 * stuffing replays a list of leaked pairs, so each account is tried about once (average below
 * DETECTION_SPRAYING_ATTEMPTS_PER_ACCOUNT_MIN), while spraying comes back to the same accounts with a
 * few common passwords (average at or above it). A run can fire brute force and one of the others.
 */
export function classifyLoginFailures(row: AddressFailures, config: DetectionConfig): RuleName[] {
  assert.ok(row.accountFailures <= row.failures && row.accounts <= row.accountFailures);
  const rules: RuleName[] = [];
  if (row.failures >= config.bruteForceFailuresMin) rules.push('brute_force');
  const perAccount = row.accounts === 0 ? 0 : row.accountFailures / row.accounts;
  const spraying = perAccount >= config.sprayingAttemptsPerAccountMin;
  if (!spraying && row.accounts >= config.stuffingAccountsMin) rules.push('credential_stuffing');
  if (spraying && row.accounts >= config.sprayingAccountsMin) rules.push('password_spraying');
  return rules;
}

export function loginFindings(row: AddressFailures, config: DetectionConfig): Finding[] {
  const perAccount = row.accounts === 0 ? 0 : row.accountFailures / row.accounts;
  return classifyLoginFailures(row, config).map((rule) => ({
    rule,
    subject: `ip:${row.ip}`,
    description: `${row.failures} failed logins against ${row.accounts} accounts from ${row.ip} within ${config.loginWindowMinutes} minutes`,
    indicators: [
      `ip:${row.ip}`,
      `failures:${row.failures}`,
      `accounts:${row.accounts}`,
      `attempts_per_account:${perAccount.toFixed(2)}`,
    ],
    userIds: row.userIds,
    accountIds: [],
    transactionIds: [],
    ipAddress: row.ip,
  }));
}

/** Where a successful login was, from login_audits.device_info (the GeoIP lookup at the time). */
export interface LoginPlace {
  country: string;
  latitude: number | null;
  longitude: number | null;
  /** The accuracy radius around the coordinates, in kilometres (null: unknown, taken as 0). */
  accuracyRadiusKm: number | null;
  atMs: number;
}

const earthRadiusKm = 6371.0088;

/** The great-circle distance between two points (haversine), in kilometres. */
export function greatCircleKm(latitudeA: number, longitudeA: number, latitudeB: number, longitudeB: number) {
  const radians = (degrees: number) => (degrees * Math.PI) / 180;
  const dLatitude = radians(latitudeB - latitudeA);
  const dLongitude = radians(longitudeB - longitudeA);
  const h =
    Math.sin(dLatitude / 2) ** 2 +
    Math.cos(radians(latitudeA)) * Math.cos(radians(latitudeB)) * Math.sin(dLongitude / 2) ** 2;
  return 2 * earthRadiusKm * Math.asin(Math.min(1, Math.sqrt(h)));
}

export interface Travel {
  /** The distance less both accuracy radii (never below 0): the least the user must have covered. */
  distanceKm: number;
  hours: number;
  speedKmh: number;
}

/**
 * The travel between two logins from different countries, or null when it cannot be measured (the same
 * country, a side without coordinates). The distance is the least one consistent with both lookups
 * (the great circle less both accuracy radii), the time at least one second, so two logins in the same
 * instant from far apart are still a finite, very high speed.
 */
export function travelBetween(earlier: LoginPlace, later: LoginPlace): Travel | null {
  if (earlier.country === later.country) return null;
  const { latitude: latA, longitude: lonA } = earlier;
  const { latitude: latB, longitude: lonB } = later;
  if (latA === null || lonA === null || latB === null || lonB === null) return null;
  const slackKm = (earlier.accuracyRadiusKm ?? 0) + (later.accuracyRadiusKm ?? 0);
  const distanceKm = Math.max(0, greatCircleKm(latA, lonA, latB, lonB) - slackKm);
  const hours = Math.max(1, (later.atMs - earlier.atMs) / 1000) / 3600;
  return { distanceKm, hours, speedKmh: distanceKm / hours };
}

/** Impossible travel: a measurable trip faster than DETECTION_TRAVEL_SPEED_KMH_MAX. */
export function isImpossibleTravel(travel: Travel | null, config: DetectionConfig): travel is Travel {
  return travel !== null && travel.speedKmh > config.travelSpeedKmhMax;
}
