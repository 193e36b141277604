import { isIP } from 'node:net';
import type { SecurityActionTaken, Severity } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import type { AuditContext } from '../../platform/audit/audit-trail.ts';
import { locationJson } from '../../platform/geolocation.ts';
import { printableText } from '../../platform/text-input.ts';
import { type SecurityEventType, securityEventKinds } from './security-event-types.ts';
import { findSecuritySignals, insertSecurityEventRow } from './security-events.repository.ts';
import {
  noSignals,
  type SecurityScores,
  type SecuritySignals,
  securityScores,
  severityFor,
} from './security-scores.ts';

/**
 * Security events (issue 10 item 1; seed 001 security_logs, seeds 003 and 004 security_events): one
 * row per authentication, session or credential change, written in the transaction of the change
 * that caused it, with the request's address, device fingerprint (hashed), user agent and location,
 * and risk / fraud / anomaly scores from documented rules (security-scores.ts, docs/security.md).
 */
export interface SecurityEventInput {
  type: SecurityEventType;
  /** The user the event is about; the context's user (or staff member) when absent. */
  userId?: string | undefined;
  description: string;
  details?: Record<string, unknown> | undefined;
  /** From assessSignals; without them the event is scored on its type alone (no query). */
  signals?: SecuritySignals | undefined;
  /** Raises the type's severity floor (a repeated lockout is high). */
  severity?: Severity | undefined;
  actionTaken?: SecurityActionTaken | undefined;
  threatType?: string | undefined;
  attackVector?: string | undefined;
  targetResource?: string | undefined;
  detectionMethod?: string | undefined;
}

const userAgentLengthMax = 1000;

/** The signals for the scores of an event about `userId` (or, without one, the address): one query. */
export async function assessSignals(
  transaction: ScopedTransaction,
  context: AuditContext,
  userId: string | undefined,
): Promise<SecuritySignals> {
  const row = await findSecuritySignals(transaction, {
    tenantId: context.tenantId,
    userId,
    ipAddress: context.ipAddress && isIP(context.ipAddress) ? context.ipAddress : undefined,
    deviceFingerprint: context.deviceFingerprint,
    country: context.location?.country,
  });
  return {
    hasHistory: row.has_history,
    knownAddress: row.known_address,
    knownDevice: row.known_device,
    knownCountry: row.known_country,
    recentFailures: row.recent_failures,
    // The threat-intelligence check marks the request it let through on a low or medium indicator.
    indicatorHit: context.indicatorHit === true,
  };
}

function higher(first: Severity, second: Severity | undefined): Severity {
  const order: readonly Severity[] = ['low', 'medium', 'high', 'critical'];
  return second !== undefined && order.indexOf(second) > order.indexOf(first) ? second : first;
}

/** Writes one security event in the caller's transaction; returns its scores. */
export async function recordSecurityEvent(
  transaction: ScopedTransaction,
  context: AuditContext,
  input: SecurityEventInput,
): Promise<SecurityScores> {
  const kind = securityEventKinds[input.type];
  const signals = input.signals ?? noSignals;
  const scores = securityScores(kind.weight, signals);
  const severity = severityFor(higher(kind.severity, input.severity), scores.riskScore);
  await insertSecurityEventRow(transaction, {
    tenant_id: context.tenantId,
    user_id: input.userId ?? context.userId ?? context.adminId ?? null,
    event_type: input.type,
    event_category: kind.category,
    severity,
    threat_type: input.threatType ?? null,
    ip_address: context.ipAddress && isIP(context.ipAddress) ? context.ipAddress : null,
    device_fingerprint: context.deviceFingerprint ?? null,
    user_agent: context.userAgent ? printableText(context.userAgent.slice(0, userAgentLengthMax)) : null,
    geolocation: locationJson(context.location),
    description: input.description,
    details: JSON.stringify({ ...(input.details ?? {}), signals }),
    metadata: JSON.stringify({
      request_id: context.requestId ?? null,
      endpoint: context.endpoint ?? null,
      method: context.method ?? null,
      session_id: context.sessionId ?? null,
    }),
    target_resource: input.targetResource ?? null,
    attack_vector: input.attackVector ?? null,
    detection_method: input.detectionMethod ?? null,
    risk_score: String(scores.riskScore),
    // Seed 003 defines fraud_score and anomaly_score as probabilities (0–1): the 0–100 score / 100.
    fraud_score: (scores.fraudScore / 100).toFixed(2),
    anomaly_score: (scores.anomalyScore / 100).toFixed(2),
    action_taken: input.actionTaken ?? kind.action,
  });
  context.securityEventsCounter?.inc({ type: input.type, severity });
  return scores;
}

/**
 * A change of credentials or second factor (password, MFA): scored on the signals of the request that
 * made it, so a change from a stranger's device and address stands out (one query).
 */
export async function recordCredentialChange(
  transaction: ScopedTransaction,
  context: AuditContext,
  input: Omit<SecurityEventInput, 'signals'> & { userId: string },
): Promise<SecurityScores> {
  const signals = await assessSignals(transaction, context, input.userId);
  return recordSecurityEvent(transaction, context, { ...input, signals });
}
