import { sql } from 'kysely';
import type { IncidentStatus, Severity, ThreatStatus } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

const incidentColumns = [
  'id',
  'incident_type',
  'severity',
  'status',
  'priority',
  'title',
  'description',
  'assigned_to',
  'related_threat_ids',
  'related_event_ids',
  'created_at',
  'updated_at',
  'resolved_at',
  'closed_at',
] as const;

export interface NewIncident {
  incident_type: string;
  severity: Severity;
  priority: Severity;
  title: string;
  description: string | null;
  assigned_to: string | null;
  related_threat_ids: string[];
  related_event_ids: string[];
}

export function insertIncident(transaction: ScopedTransaction, tenantId: string, incident: NewIncident) {
  return transaction
    .insertInto('security_incidents')
    .values({ ...incident, tenant_id: tenantId })
    .returning(incidentColumns)
    .executeTakeFirstOrThrow();
}

export type IncidentRow = Awaited<ReturnType<typeof insertIncident>>;

export function findIncident(transaction: ScopedTransaction, tenantId: string, id: string) {
  return transaction
    .selectFrom('security_incidents')
    .select(incidentColumns)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export interface IncidentUpdate {
  status?: IncidentStatus;
  priority?: Severity;
  severity?: Severity;
  assigned_to?: string | null;
  description?: string;
  addThreatIds?: readonly string[];
  addEventIds?: readonly string[];
}

/**
 * Applies the changes if the incident is still in `expectedStatus`: the caller decided the move from
 * that status, and a concurrent change makes this one match nothing (undefined) instead of skipping a
 * step. Linked ids are appended without duplicates; resolved_at / closed_at follow the status.
 */
export function updateIncident(
  transaction: ScopedTransaction,
  tenantId: string,
  id: string,
  expectedStatus: IncidentStatus,
  update: IncidentUpdate,
) {
  const appendIds = (column: 'related_threat_ids' | 'related_event_ids', ids: readonly string[]) =>
    sql<
      string[]
    >`array(select distinct unnest(${sql.ref(column)} || ${sql.val([...ids])}::uuid[]) order by 1)`;
  return transaction
    .updateTable('security_incidents')
    .set({
      ...(update.status ? { status: update.status } : {}),
      ...(update.status === 'resolved' ? { resolved_at: sql`now()` } : {}),
      ...(update.status === 'closed' ? { closed_at: sql`now()` } : {}),
      ...(update.status === 'investigating' ? { resolved_at: null } : {}),
      ...(update.priority ? { priority: update.priority } : {}),
      ...(update.severity ? { severity: update.severity } : {}),
      ...(update.assigned_to !== undefined ? { assigned_to: update.assigned_to } : {}),
      ...(update.description !== undefined ? { description: update.description } : {}),
      ...(update.addThreatIds?.length
        ? { related_threat_ids: appendIds('related_threat_ids', update.addThreatIds) }
        : {}),
      ...(update.addEventIds?.length
        ? { related_event_ids: appendIds('related_event_ids', update.addEventIds) }
        : {}),
      updated_at: sql`now()`,
    })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .where('status', '=', expectedStatus)
    .returning(incidentColumns)
    .executeTakeFirst();
}

export function listIncidents(
  transaction: ScopedTransaction,
  tenantId: string,
  filter: {
    status?: IncidentStatus | undefined;
    severity?: Severity | undefined;
    priority?: Severity | undefined;
    assignedTo?: string | undefined;
  },
  beforeId: string | undefined,
  limit: number,
) {
  let query = transaction
    .selectFrom('security_incidents')
    .select(incidentColumns)
    .where('tenant_id', '=', tenantId);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.severity) query = query.where('severity', '=', filter.severity);
  if (filter.priority) query = query.where('priority', '=', filter.priority);
  if (filter.assignedTo) query = query.where('assigned_to', '=', filter.assignedTo);
  if (beforeId) query = query.where('id', '<', beforeId);
  return query.orderBy('id', 'desc').limit(limit).execute();
}

/** Whether the user is a staff member of the tenant (an incident is assigned only to staff). */
export async function isStaffMember(transaction: ScopedTransaction, tenantId: string, userId: string) {
  const row = await transaction
    .selectFrom('users')
    .innerJoin('roles', 'roles.name', 'users.role')
    .select('users.id')
    .where('users.tenant_id', '=', tenantId)
    .where('users.id', '=', userId)
    .where('roles.is_staff', '=', true)
    .executeTakeFirst();
  return row !== undefined;
}

/** How many of the ids name rows of the table in the tenant (links must point at real rows). */
export async function countExisting(
  transaction: ScopedTransaction,
  tenantId: string,
  table: 'threat_events' | 'security_events',
  ids: readonly string[],
): Promise<number> {
  if (ids.length === 0) return 0;
  const row = await transaction
    .selectFrom(table)
    .select(sql<number>`count(distinct id)::int`.as('count'))
    .where('tenant_id', '=', tenantId)
    .where('id', 'in', [...ids])
    .executeTakeFirstOrThrow();
  return row.count;
}

/** The incident's audit rows, oldest first: its timeline. */
export function incidentTimeline(transaction: ScopedTransaction, tenantId: string, id: string) {
  return transaction
    .selectFrom('audit_logs')
    .select(['created_at', 'action', 'admin_id', 'new_values'])
    .where('tenant_id', '=', tenantId)
    .where('entity_type', '=', 'security_incident')
    .where('entity_id', '=', id)
    .orderBy('created_at')
    .orderBy('id')
    .limit(1000)
    .execute();
}

export function listThreats(
  transaction: ScopedTransaction,
  tenantId: string,
  filter: {
    status?: ThreatStatus | undefined;
    severity?: Severity | undefined;
    threatType?: string | undefined;
  },
  beforeId: string | undefined,
  limit: number,
) {
  let query = transaction
    .selectFrom('threat_events')
    .select([
      'id',
      'threat_type',
      'severity',
      'status',
      'description',
      'indicators',
      'affected_user_ids',
      'detection_method',
      sql<number | null>`confidence::float8`.as('confidence'),
      'response_action',
      'response_status',
      'detected_at',
      'mitigated_at',
      'resolved_at',
    ])
    .where('tenant_id', '=', tenantId);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.severity) query = query.where('severity', '=', filter.severity);
  if (filter.threatType) query = query.where('threat_type', '=', filter.threatType);
  if (beforeId) query = query.where('id', '<', beforeId);
  return query.orderBy('id', 'desc').limit(limit).execute();
}
