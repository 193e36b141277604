import type { Kysely } from 'kysely';
import type { DetectionConfig } from '../../config/security-config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import type { Database, SecurityActionTaken } from '../../db/schema.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { addressNetwork } from '../../platform/ip-network.ts';
import type { AppMetrics } from '../../platform/metrics.ts';
import { insertIncident } from '../incidents/incidents.repository.ts';
import { insertSecurityEventRow } from '../security-events/security-events.repository.ts';
import {
  insertAddressBlock,
  insertThreatOnce,
  type LocatedLoginRow,
  largeOutgoingAmounts,
  listTenantIds,
  locatedLogins,
  lockAccounts,
  loginFailuresByAddress,
  newAddressSessions,
  repeatedForbidden,
  requireStepUp,
  screenSensitiveAction,
  takeoverChains,
  transferVelocity,
} from './detection.repository.ts';
import {
  dedupKey,
  type Finding,
  isImpossibleTravel,
  type LoginPlace,
  loginFindings,
  type ResponseAction,
  rulePolicies,
  type Travel,
  travelBetween,
} from './detection.rules.ts';

export interface DetectionServices {
  db: Kysely<Database>;
  /** The same database: the inline screen reads through it in one round trip. */
  database: DatabaseHandle;
  config: DetectionConfig;
  largeAmountMinor: number;
  metrics: Pick<AppMetrics, 'detectionsTotal' | 'responsesTotal' | 'detectionScreensTotal'>;
  /** Called after a detection blocked an address or required a step-up, so this process reloads at once. */
  onControlsChanged?: ((tenantId: string) => void) | undefined;
}

/** What set an inline run off: the rules it runs read only the rows about that subject. */
export type DetectionTrigger =
  | { kind: 'login_failure'; ip: string }
  | { kind: 'login_success'; ip: string }
  /**
   * `largeAmount`: the action may have moved a large amount out (a money route whose amounts are not
   * known below it). `velocityTransfers`: the transfer statement's upper bound of the user's velocity
   * count (migration 0018), when it answered one.
   */
  | { kind: 'sensitive_action'; userId: string; largeAmount: boolean; velocityTransfers?: number | undefined }
  | { kind: 'forbidden'; ip: string };

type Subject = { ip?: string | undefined; userId?: string | undefined };

async function loginRules(
  transaction: ScopedTransaction,
  tenantId: string,
  services: DetectionServices,
  ip?: string,
) {
  const config = services.config;
  const failuresMin = Math.min(
    config.bruteForceFailuresMin,
    config.stuffingAccountsMin,
    config.sprayingAccountsMin,
  );
  const rows = await loginFailuresByAddress(
    transaction,
    tenantId,
    config.loginWindowMinutes,
    failuresMin,
    ip,
    config.ipv6BlockPrefixLength,
  );
  return rows.flatMap((row) =>
    loginFindings(
      {
        ip: row.ip,
        failures: row.failures,
        accounts: row.accounts,
        accountFailures: row.account_failures,
        userIds: row.user_ids,
      },
      config,
    ),
  );
}

async function newAddressRule(
  transaction: ScopedTransaction,
  tenantId: string,
  services: DetectionServices,
  subject: Subject,
) {
  const { loginWindowMinutes, newAddressLookbackDays } = services.config;
  const rows = await newAddressSessions(
    transaction,
    tenantId,
    loginWindowMinutes,
    newAddressLookbackDays,
    subject,
  );
  return rows.map(
    (row): Finding => ({
      rule: 'new_address_login',
      subject: `session:${row.session_id}`,
      description: `A login from ${row.ip}, an address this user has not logged in from before`,
      indicators: [`ip:${row.ip}`, `session:${row.session_id}`, `new_device:${row.new_device}`],
      userIds: [row.user_id],
      accountIds: [],
      transactionIds: [],
      ipAddress: row.ip,
    }),
  );
}

function newCountryFinding(row: LocatedLoginRow): Finding {
  return {
    rule: 'new_country_login',
    subject: `login:${row.login_id}`,
    description: `A login from ${row.l_country} (${row.ip}), a country none of this user's logins of the lookback came from`,
    indicators: [`country:${row.l_country}`, `ip:${row.ip}`, `login:${row.login_id}`],
    userIds: [row.user_id],
    accountIds: [],
    transactionIds: [],
    ipAddress: row.ip,
  };
}

function travelFinding(row: LocatedLoginRow, travel: Travel): Finding {
  const minutes = Math.round(travel.hours * 60);
  return {
    rule: 'impossible_travel',
    subject: `user:${row.user_id}`,
    description: `Logins from ${row.p_country} (${row.p_ip}) and ${row.l_country} (${row.ip}) ${minutes} minutes apart: at least ${Math.round(travel.distanceKm)} km, ${Math.round(travel.speedKmh)} km/h`,
    indicators: [
      `from:${row.p_country}`,
      `to:${row.l_country}`,
      `ip:${row.ip}`,
      `previous_ip:${row.p_ip}`,
      `distance_km:${Math.round(travel.distanceKm)}`,
      `speed_kmh:${Math.round(travel.speedKmh)}`,
      `login:${row.login_id}`,
    ],
    userIds: [row.user_id],
    accountIds: [],
    transactionIds: [],
    ipAddress: row.ip,
  };
}

function placesOf(row: LocatedLoginRow): { earlier: LoginPlace; later: LoginPlace } | undefined {
  if (row.p_country === null || row.p_at_ms === null) return undefined;
  return {
    earlier: {
      country: row.p_country,
      latitude: row.p_latitude,
      longitude: row.p_longitude,
      accuracyRadiusKm: row.p_accuracy_km,
      atMs: row.p_at_ms,
    },
    later: {
      country: row.l_country,
      latitude: row.l_latitude,
      longitude: row.l_longitude,
      accuracyRadiusKm: row.l_accuracy_km,
      atMs: row.l_at_ms,
    },
  };
}

/**
 * New country and impossible travel, over the located successful logins of the window (a trigger's
 * address, or all of them): a login whose country none of the user's located logins of the lookback
 * had (a user with no located login yet has no country to be new against), and a login too far from
 * the user's previous located login for the time between them.
 */
async function geoLoginRules(
  transaction: ScopedTransaction,
  tenantId: string,
  services: DetectionServices,
  ip?: string,
) {
  const { loginWindowMinutes, newAddressLookbackDays } = services.config;
  const rows = await locatedLogins(transaction, tenantId, loginWindowMinutes, newAddressLookbackDays, ip);
  const found: Finding[] = [];
  for (const row of rows) {
    if (row.located_history && !row.known_country) found.push(newCountryFinding(row));
    const places = placesOf(row);
    const travel = places ? travelBetween(places.earlier, places.later) : null;
    if (isImpossibleTravel(travel, services.config)) found.push(travelFinding(row, travel));
  }
  return found;
}

async function loginSuccessRules(
  transaction: ScopedTransaction,
  tenantId: string,
  services: DetectionServices,
  ip?: string,
) {
  const found = await newAddressRule(transaction, tenantId, services, { ip });
  found.push(...(await geoLoginRules(transaction, tenantId, services, ip)));
  return found;
}

async function takeoverRule(
  transaction: ScopedTransaction,
  tenantId: string,
  services: DetectionServices,
  userId?: string,
) {
  const config = services.config;
  const rows = await takeoverChains(
    transaction,
    tenantId,
    config.takeoverWindowMinutes,
    config.newAddressLookbackDays,
    services.largeAmountMinor,
    userId,
  );
  return rows.map(
    (row): Finding => ({
      rule: 'account_takeover',
      subject: `session:${row.session_id}`,
      description: `A login from a new device and a new address (${row.ip}) followed within ${config.takeoverWindowMinutes} minutes by ${[...(row.changes ?? []), ...(row.transaction_ids ? ['a large outgoing amount'] : [])].join(', ')}`,
      indicators: [
        `ip:${row.ip}`,
        `session:${row.session_id}`,
        `device:${row.device}`.slice(0, 500),
        ...(row.changes ?? []).map((change) => `change:${change}`),
      ],
      userIds: [row.user_id],
      accountIds: row.wallet_ids ?? [],
      transactionIds: row.transaction_ids ?? [],
      ipAddress: row.ip,
    }),
  );
}

async function velocityRule(
  transaction: ScopedTransaction,
  tenantId: string,
  services: DetectionServices,
  userId?: string,
) {
  const config = services.config;
  const velocity = await transferVelocity(
    transaction,
    tenantId,
    config.velocityWindowMinutes,
    config.velocityTransfersMin,
    userId,
  );
  return velocity.map(
    (row): Finding => ({
      rule: 'transaction_velocity',
      subject: `user:${row.user_id}`,
      description: `${row.transfers} transfers within ${config.velocityWindowMinutes} minutes`,
      indicators: [`transfers:${row.transfers}`, `window_minutes:${config.velocityWindowMinutes}`],
      userIds: [row.user_id],
      accountIds: row.wallet_ids,
      transactionIds: row.transaction_ids,
      ipAddress: null,
    }),
  );
}

async function largeAmountRule(
  transaction: ScopedTransaction,
  tenantId: string,
  services: DetectionServices,
  userId?: string,
) {
  const large = await largeOutgoingAmounts(
    transaction,
    tenantId,
    services.config.takeoverWindowMinutes,
    services.largeAmountMinor,
    userId,
  );
  const none: string[] = [];
  return large.map(
    (row): Finding => ({
      rule: 'large_amount',
      subject: `transaction:${row.id}`,
      description: `A ${row.type} of ${row.amount} ${row.asset_code} (minor units), at or above ${services.largeAmountMinor}`,
      indicators: [`amount:${row.amount}`, `asset:${row.asset_code}`],
      userIds: row.user_id ? [row.user_id] : none,
      accountIds: [row.wallet_id],
      transactionIds: [row.id],
      ipAddress: null,
    }),
  );
}

async function forbiddenRule(
  transaction: ScopedTransaction,
  tenantId: string,
  services: DetectionServices,
  ip?: string,
) {
  const config = services.config;
  const rows = await repeatedForbidden(
    transaction,
    tenantId,
    config.forbiddenWindowMinutes,
    config.forbiddenEventsMin,
    ip,
    config.ipv6BlockPrefixLength,
  );
  return rows.map(
    (row): Finding => ({
      rule: 'repeated_forbidden',
      subject: `ip:${row.ip}`,
      description: `${row.events} requests refused 403 from ${row.ip} within ${config.forbiddenWindowMinutes} minutes`,
      indicators: [`ip:${row.ip}`, `forbidden:${row.events}`],
      userIds: row.user_ids,
      accountIds: [],
      transactionIds: [],
      ipAddress: row.ip,
    }),
  );
}

type UserRule = typeof takeoverRule;

/**
 * The rules a sensitive action needs, from one screening read: velocity once the user's count reaches
 * its minimum, takeover when a fresh session from a new address and device exists, large amount when
 * the action may have moved one out. Velocity and takeover are screened on exactly their rules'
 * preconditions, so a screened-out one would have found nothing. Large amount is not: it runs only on
 * the request's own amounts, so a large entry the request did not write — a withdrawal's ledger row,
 * which the payout worker writes later, or one whose own run was dropped — is left to the sweep.
 */
async function sensitiveRulesNeeded(
  services: DetectionServices,
  tenantId: string,
  trigger: Extract<DetectionTrigger, { kind: 'sensitive_action' }>,
): Promise<UserRule[]> {
  const config = services.config;
  const screen = await screenSensitiveAction(services.database, tenantId, trigger.userId, {
    velocityWindowMinutes: config.velocityWindowMinutes,
    velocityTransfersMin: config.velocityTransfersMin,
    takeoverWindowMinutes: config.takeoverWindowMinutes,
    lookbackDays: config.newAddressLookbackDays,
  });
  const rules: UserRule[] = [];
  if (screen.fresh_session) rules.push(takeoverRule);
  if (screen.transfers >= config.velocityTransfersMin) rules.push(velocityRule);
  if (trigger.largeAmount) rules.push(largeAmountRule);
  return rules;
}

/**
 * The rules of a transfer under the large amount whose statement counted the sender's velocity, with
 * no read: velocity when the count's upper bound reaches the minimum (below it the rule finds nothing).
 * Not takeover: the chain's second step is a sensitive change or a large movement, and such a transfer
 * is neither — a change through the customer's routes runs its own screen, a large amount sets
 * `largeAmount`; second steps with no inline run of their own (a large withdrawal's payout, a reset by
 * emailed link, a staff change) are left to the sweep (docs/security.md, "Delays"). Undefined: the
 * trigger needs the screen.
 */
function countedTransferRules(
  trigger: Extract<DetectionTrigger, { kind: 'sensitive_action' }>,
  velocityTransfersMin: number,
): UserRule[] | undefined {
  if (trigger.velocityTransfers === undefined || trigger.largeAmount) return undefined;
  return trigger.velocityTransfers >= velocityTransfersMin ? [velocityRule] : [];
}

async function sensitiveRules(
  transaction: ScopedTransaction,
  tenantId: string,
  services: DetectionServices,
  userId: string | undefined,
  rules: readonly UserRule[] = [takeoverRule, velocityRule, largeAmountRule],
) {
  const found: Finding[] = [];
  for (const rule of rules) found.push(...(await rule(transaction, tenantId, services, userId)));
  return found;
}

/** The rules a trigger concerns, over the rows about its subject; the sweep runs them all. */
function findingsFor(
  transaction: ScopedTransaction,
  tenantId: string,
  services: DetectionServices,
  trigger: DetectionTrigger,
  userRules: readonly UserRule[],
): Promise<Finding[]> {
  switch (trigger.kind) {
    case 'login_failure':
      return loginRules(transaction, tenantId, services, trigger.ip);
    case 'login_success':
      return loginSuccessRules(transaction, tenantId, services, trigger.ip);
    case 'sensitive_action':
      return sensitiveRules(transaction, tenantId, services, trigger.userId, userRules);
    case 'forbidden':
      return forbiddenRule(transaction, tenantId, services, trigger.ip);
  }
}

async function sweepFindings(transaction: ScopedTransaction, tenantId: string, services: DetectionServices) {
  const found: Finding[] = [];
  found.push(...(await loginRules(transaction, tenantId, services)));
  found.push(...(await loginSuccessRules(transaction, tenantId, services)));
  found.push(...(await sensitiveRules(transaction, tenantId, services, undefined)));
  found.push(...(await forbiddenRule(transaction, tenantId, services)));
  return found;
}

const strongestAction: readonly [ResponseAction, SecurityActionTaken][] = [
  ['block', 'block'],
  ['lock', 'lock'],
  ['step_up', 'challenge'],
];

function actionTaken(actions: readonly ResponseAction[]): SecurityActionTaken {
  return strongestAction.find(([action]) => actions.includes(action))?.[1] ?? 'allow';
}

async function respond(
  transaction: ScopedTransaction,
  tenantId: string,
  services: DetectionServices,
  finding: Finding,
  threatId: string,
): Promise<void> {
  const policy = rulePolicies[finding.rule];
  for (const action of policy.actions) {
    if (action === 'block' && finding.ipAddress) {
      // An IPv6 client usually holds a whole /64: blocking its one address would let it walk around.
      const network = addressNetwork(finding.ipAddress, services.config.ipv6BlockPrefixLength);
      await insertAddressBlock(transaction, tenantId, network, services.config.ipBlockMinutes);
    }
    if (action === 'lock')
      await lockAccounts(transaction, tenantId, finding.userIds, services.config.accountLockMinutes);
    if (action === 'step_up')
      for (const userId of finding.userIds)
        await requireStepUp(transaction, tenantId, userId, threatId, finding.rule);
    if (action === 'escalate')
      await insertIncident(transaction, tenantId, {
        incident_type: finding.rule,
        severity: policy.severity,
        priority: policy.severity,
        title: `Detected: ${finding.rule.replaceAll('_', ' ')}`.slice(0, 500),
        description: finding.description,
        assigned_to: null,
        related_threat_ids: [threatId],
        related_event_ids: [],
      });
  }
}

/**
 * Records a finding and runs its response in one transaction: the threat (unless this attack is
 * already one in this window — then nothing else happens), the responses, and the security event of
 * category `threat`. A critical event is the alert the alert sinks pick up.
 */
export async function recordFinding(
  services: DetectionServices,
  tenantId: string,
  finding: Finding,
  nowMs: number,
): Promise<boolean> {
  const policy = rulePolicies[finding.rule];
  const created = await withScope(services.db, { tenantId }, async (transaction) => {
    const threatId = await insertThreatOnce(transaction, tenantId, {
      threat_type: finding.rule,
      severity: policy.severity,
      description: finding.description,
      indicators: finding.indicators.map((indicator) => indicator.slice(0, 500)),
      affected_user_ids: finding.userIds,
      affected_account_ids: finding.accountIds,
      affected_transaction_ids: finding.transactionIds,
      confidence: policy.confidence,
      response_action: policy.actions[0],
      dedup_key: dedupKey(finding, services.config, nowMs),
    });
    if (!threatId) return false;
    await respond(transaction, tenantId, services, finding, threatId);
    await insertSecurityEventRow(transaction, {
      tenant_id: tenantId,
      user_id: finding.userIds.length === 1 ? (finding.userIds[0] ?? null) : null,
      event_type: 'THREAT_DETECTED',
      event_category: 'threat',
      severity: policy.severity,
      threat_type: finding.rule,
      ip_address: finding.ipAddress,
      description: finding.description.slice(0, 2000),
      details: JSON.stringify({
        threat_id: threatId,
        rule: finding.rule,
        indicators: finding.indicators,
        responses: policy.actions,
      }),
      detection_method: 'rule_based',
      risk_score: policy.confidence,
      action_taken: actionTaken(policy.actions),
      mitigation_action: policy.actions.join(','),
    });
    return true;
  });
  if (!created) return false;
  services.metrics.detectionsTotal.inc({ rule: finding.rule });
  for (const action of policy.actions) services.metrics.responsesTotal.inc({ action });
  if (policy.actions.some((action) => action === 'block' || action === 'step_up'))
    services.onControlsChanged?.(tenantId);
  return true;
}

async function recordAll(services: DetectionServices, tenantId: string, findings: readonly Finding[]) {
  const nowMs = Date.now();
  let created = 0;
  for (const finding of findings) if (await recordFinding(services, tenantId, finding, nowMs)) created += 1;
  return created;
}

/**
 * The inline run after a response: the trigger's rules over its subject (a sensitive action's, after
 * its screen: most money actions end there, in one read). Returns the threats created.
 */
export async function detectAfterRequest(
  services: DetectionServices,
  tenantId: string,
  trigger: DetectionTrigger,
): Promise<number> {
  let userRules: UserRule[] = [];
  if (trigger.kind === 'sensitive_action') {
    const counted = countedTransferRules(trigger, services.config.velocityTransfersMin);
    userRules = counted ?? (await sensitiveRulesNeeded(services, tenantId, trigger));
    const outcome = userRules.length > 0 ? 'ran' : counted ? 'counted_out' : 'screened_out';
    services.metrics.detectionScreensTotal.inc({ outcome });
    if (userRules.length === 0) return 0;
  }
  const findings = await withScope(services.db, { tenantId }, (transaction) =>
    findingsFor(transaction, tenantId, services, trigger, userRules),
  );
  return recordAll(services, tenantId, findings);
}

/** The scheduled sweep: every rule over the recent window of every tenant. Returns the threats created. */
export async function sweepDetections(services: DetectionServices): Promise<number> {
  let created = 0;
  for (const tenant of await listTenantIds(services.db)) {
    const findings = await withScope(services.db, { tenantId: tenant.id }, (transaction) =>
      sweepFindings(transaction, tenant.id, services),
    );
    created += await recordAll(services, tenant.id, findings);
  }
  return created;
}
