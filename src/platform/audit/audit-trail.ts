import assert from 'node:assert/strict';
import type { Counter } from 'prom-client';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';
import { type GeoLocation, locationJson } from '../geolocation.ts';
import { maskSecrets } from '../logger.ts';

/**
 * Where a change came from: filled from the HTTP request (or the CLI / a job) and passed down to the
 * service that makes the change, so the audit row can name the actor and the request.
 */
export interface AuditContext {
  tenantId: string;
  /** The customer acting, or the customer a staff member acts on. */
  userId?: string | undefined;
  /** The staff member acting (seed 000 admin_id). */
  adminId?: string | undefined;
  ipAddress?: string | undefined;
  userAgent?: string | undefined;
  endpoint?: string | undefined;
  method?: string | undefined;
  requestId?: string | undefined;
  sessionId?: string | undefined;
  /** The keyed hash of the client's X-Device-Fingerprint header (never the raw value). */
  deviceFingerprint?: string | undefined;
  /** Where the client address is (GeoIP); null for private and loopback addresses. */
  location?: GeoLocation | null | undefined;
  /** The request matched a low or medium threat-intelligence indicator (a high one is refused). */
  indicatorHit?: boolean | undefined;
  /**
   * The HTTP status the request will answer with when it succeeds (the route's success status): audit
   * rows are written before the reply, so the status is known ahead. A refusal recorded in its own
   * transaction names its own status (AuditEntry.statusCode).
   */
  statusCode?: number | undefined;
  /** corebank_security_events_total of the app serving the request, counted as events are written. */
  securityEventsCounter?: Counter<'type' | 'severity'> | undefined;
}

export interface AuditEntry {
  entityType: string;
  entityId: string;
  action: string;
  eventType?: string;
  eventStatus?: 'SUCCESS' | 'FAILED' | 'BLOCKED';
  oldValues?: Record<string, unknown> | undefined;
  newValues?: Record<string, unknown> | undefined;
  statusCode?: number | undefined;
  details?: Record<string, unknown>;
  riskScore?: number;
}

const userAgentLengthMax = 1000;

/**
 * Writes one audit row inside the caller's transaction, so the change and its audit row commit
 * together or not at all. Secret-looking fields in old/new values are masked before they are stored.
 * The row is unsealed; the sealer chains and signs it shortly after commit (see docs/architecture.md).
 */
export async function recordAudit(
  transaction: ScopedTransaction,
  context: AuditContext,
  entry: AuditEntry,
): Promise<void> {
  assert.ok(entry.entityType.length > 0 && entry.entityType.length <= 50, 'audit entity type out of bounds');
  assert.ok(entry.entityId.length > 0 && entry.entityId.length <= 100, 'audit entity id out of bounds');
  await transaction
    .insertInto('audit_logs')
    .values({
      tenant_id: context.tenantId,
      user_id: context.userId ?? null,
      admin_id: context.adminId ?? null,
      event_type: entry.eventType ?? 'DATA_CHANGE',
      event_status: entry.eventStatus ?? 'SUCCESS',
      entity_type: entry.entityType,
      entity_id: entry.entityId,
      action: entry.action,
      old_values: entry.oldValues === undefined ? null : JSON.stringify(maskSecrets(entry.oldValues)),
      new_values: entry.newValues === undefined ? null : JSON.stringify(maskSecrets(entry.newValues)),
      ip_address: context.ipAddress ?? null,
      user_agent: context.userAgent?.slice(0, userAgentLengthMax) ?? null,
      api_endpoint: context.endpoint?.slice(0, 255) ?? null,
      request_method: context.method ?? null,
      status_code: entry.statusCode ?? context.statusCode ?? null,
      request_id: context.requestId ?? null,
      session_id: context.sessionId ?? null,
      device_fingerprint: context.deviceFingerprint ?? null,
      location: locationJson(context.location),
      details: JSON.stringify(maskSecrets(entry.details ?? {})),
      risk_score: entry.riskScore ?? 0,
    })
    .execute();
}
