import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import { AppError } from '../../platform/errors.ts';
import { decodeIdCursor, encodeIdCursor } from '../../platform/pagination.ts';
import {
  countExisting,
  findIncident,
  type IncidentRow,
  incidentTimeline,
  insertIncident,
  isStaffMember,
  listIncidents,
  listThreats,
  updateIncident,
} from './incidents.repository.ts';
import {
  type IncidentBody,
  type IncidentChanges,
  type IncidentListQuery,
  type IncidentView,
  incidentTransitions,
  type ThreatListQuery,
  type ThreatView,
  type TimelineEntry,
} from './incidents.schemas.ts';

const iso = (value: Date | null) => (value ? value.toISOString() : null);

function incidentView(row: IncidentRow): IncidentView {
  return {
    ...row,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    resolved_at: iso(row.resolved_at),
    closed_at: iso(row.closed_at),
  };
}

function invalid(field: string, reason: string): AppError {
  return new AppError('VALIDATION_FAILED', undefined, [{ field, reason }]);
}

/** The assignee is a staff member of the tenant, and every linked id names a row of the tenant. */
async function checkReferences(
  transaction: ScopedTransaction,
  tenantId: string,
  references: {
    assignedTo?: string | null | undefined;
    threatIds?: string[];
    eventIds?: string[];
    prefix: string;
  },
): Promise<void> {
  const { assignedTo, threatIds = [], eventIds = [], prefix } = references;
  if (assignedTo && !(await isStaffMember(transaction, tenantId, assignedTo))) {
    throw invalid('body.assigned_to', 'must be a staff member of the tenant');
  }
  if ((await countExisting(transaction, tenantId, 'threat_events', threatIds)) !== threatIds.length) {
    throw invalid(`body.${prefix}threat_ids`, 'must name threat events of the tenant');
  }
  if ((await countExisting(transaction, tenantId, 'security_events', eventIds)) !== eventIds.length) {
    throw invalid(`body.${prefix}event_ids`, 'must name security events of the tenant');
  }
}

export async function openIncident(
  db: Kysely<Database>,
  context: AuditContext,
  body: IncidentBody,
): Promise<IncidentView> {
  const row = await withScope(db, { tenantId: context.tenantId }, async (transaction) => {
    await checkReferences(transaction, context.tenantId, {
      assignedTo: body.assigned_to,
      threatIds: body.related_threat_ids,
      eventIds: body.related_event_ids,
      prefix: 'related_',
    });
    const incident = await insertIncident(transaction, context.tenantId, {
      incident_type: body.incident_type,
      severity: body.severity,
      priority: body.priority ?? body.severity,
      title: body.title,
      description: body.description ?? null,
      assigned_to: body.assigned_to ?? null,
      related_threat_ids: body.related_threat_ids ?? [],
      related_event_ids: body.related_event_ids ?? [],
    });
    await recordAudit(transaction, context, {
      entityType: 'security_incident',
      entityId: incident.id,
      action: 'open',
      eventType: 'INCIDENT_CHANGED',
      newValues: {
        status: 'open',
        severity: incident.severity,
        priority: incident.priority,
        title: incident.title,
      },
      statusCode: 201,
    });
    return incident;
  });
  return incidentView(row);
}

/**
 * One change of an incident: a status move must be one incidentTransitions allows from the status
 * read (409 CONFLICT otherwise), and the UPDATE applies only if the incident is still in that status,
 * so two analysts moving it at once cannot skip a step. Every change is an audit row: the timeline.
 */
export async function changeIncident(
  db: Kysely<Database>,
  context: AuditContext,
  id: string,
  changes: IncidentChanges,
): Promise<IncidentView> {
  const row = await withScope(db, { tenantId: context.tenantId }, async (transaction) => {
    const current = await findIncident(transaction, context.tenantId, id);
    if (!current) throw new AppError('NOT_FOUND');
    if (
      changes.status &&
      changes.status !== current.status &&
      !incidentTransitions[current.status].includes(changes.status)
    ) {
      throw new AppError('CONFLICT', `An incident cannot move from ${current.status} to ${changes.status}.`);
    }
    if (current.status === 'closed') throw new AppError('CONFLICT', 'The incident is closed.');
    await checkReferences(transaction, context.tenantId, {
      assignedTo: changes.assigned_to,
      threatIds: changes.add_threat_ids,
      eventIds: changes.add_event_ids,
      prefix: 'add_',
    });
    const { note, add_threat_ids, add_event_ids, ...fields } = changes;
    const updated = await updateIncident(transaction, context.tenantId, id, current.status, {
      ...fields,
      ...(add_threat_ids ? { addThreatIds: add_threat_ids } : {}),
      ...(add_event_ids ? { addEventIds: add_event_ids } : {}),
    });
    if (!updated) throw new AppError('CONFLICT', 'The incident changed meanwhile; read it and try again.');
    await recordAudit(transaction, context, {
      entityType: 'security_incident',
      entityId: id,
      action: changes.status && changes.status !== current.status ? `status:${changes.status}` : 'update',
      eventType: 'INCIDENT_CHANGED',
      oldValues: { status: current.status },
      newValues: { ...changes },
    });
    return updated;
  });
  return incidentView(row);
}

export async function readIncident(
  db: Kysely<Database>,
  tenantId: string,
  id: string,
): Promise<{ incident: IncidentView; timeline: TimelineEntry[] }> {
  return withScope(db, { tenantId }, async (transaction) => {
    const incident = await findIncident(transaction, tenantId, id);
    if (!incident) throw new AppError('NOT_FOUND');
    const entries = await incidentTimeline(transaction, tenantId, id);
    return {
      incident: incidentView(incident),
      timeline: entries.map((entry) => ({
        at: entry.created_at.toISOString(),
        action: entry.action,
        by: entry.admin_id,
        changes: entry.new_values,
      })),
    };
  });
}

export async function listTenantIncidents(db: Kysely<Database>, tenantId: string, query: IncidentListQuery) {
  const beforeId = query.cursor ? decodeIdCursor(query.cursor) : undefined;
  const filter = {
    status: query.status,
    severity: query.severity,
    priority: query.priority,
    assignedTo: query.assigned_to,
  };
  const rows = await withScope(db, { tenantId }, (transaction) =>
    listIncidents(transaction, tenantId, filter, beforeId, query.limit + 1),
  );
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    incidents: page.map(incidentView),
    next_cursor: rows.length > query.limit && last ? encodeIdCursor(last.id) : null,
  };
}

export async function listTenantThreats(
  db: Kysely<Database>,
  tenantId: string,
  query: ThreatListQuery,
): Promise<{ threats: ThreatView[]; next_cursor: string | null }> {
  const beforeId = query.cursor ? decodeIdCursor(query.cursor) : undefined;
  const filter = { status: query.status, severity: query.severity, threatType: query.threat_type };
  const rows = await withScope(db, { tenantId }, (transaction) =>
    listThreats(transaction, tenantId, filter, beforeId, query.limit + 1),
  );
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    threats: page.map((row) => ({
      ...row,
      detected_at: row.detected_at.toISOString(),
      mitigated_at: iso(row.mitigated_at),
      resolved_at: iso(row.resolved_at),
    })),
    next_cursor: rows.length > query.limit && last ? encodeIdCursor(last.id) : null,
  };
}
