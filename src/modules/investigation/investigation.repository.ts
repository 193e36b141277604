import assert from 'node:assert/strict';
import { type CompiledQuery, type Kysely, type RawBuilder, sql } from 'kysely';
import type { DatabaseHandle } from '../../db/database.ts';
import type { Database } from '../../db/schema.ts';
import { readInScope, type Scope, type ScopedTransaction } from '../../db/tenant-transaction.ts';
import type { ListName, ListQuery } from './investigation.schemas.ts';

type FilterKind = 'equals' | 'ip' | 'boolean';

interface ListSpec {
  table: 'audit_logs' | 'login_audits' | 'security_events' | 'api_access_log' | 'rate_limit_violations';
  /** The select list, written here (never from input): timestamps as UTC text, inet as text. */
  columns: string;
  /** Query field → [column, how it compares]. */
  filters: Record<string, [string, FilterKind]>;
  /** Own lists: the rows of the scope's user only (row-level security enforces it as well). */
  owner?: (userId: string) => RawBuilder<unknown>;
}

const utc = (column: string, alias = column) =>
  `case when t.${column} is null then null else to_char(t.${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') end as ${alias}`;
const ip = 'host(t.ip_address) as ip_address';

const auditColumns = [
  't.id',
  utc('created_at'),
  't.user_id',
  't.admin_id',
  't.event_type',
  't.event_status',
  't.entity_type',
  't.entity_id',
  't.action',
  't.old_values',
  't.new_values',
  ip,
  't.user_agent',
  't.api_endpoint',
  't.request_method',
  't.status_code',
  't.request_id',
  't.correlation_id',
  't.device_fingerprint',
  't.location',
  't.details',
  't.risk_score',
  't.chain_sequence::text as chain_sequence',
  '(t.row_hash is not null) as sealed',
];
const loginColumns = [
  't.id',
  utc('created_at'),
  't.user_id',
  't.admin_id',
  't.login_type',
  't.status',
  ip,
  't.user_agent',
  't.device_info',
  't.failure_reason',
];
const eventColumns = [
  't.id',
  utc('created_at'),
  't.user_id',
  't.event_type',
  't.event_category',
  't.severity',
  't.threat_type',
  ip,
  't.device_fingerprint',
  't.user_agent',
  't.geolocation',
  't.description',
  't.details',
  't.metadata',
  't.target_resource',
  't.attack_vector',
  't.detection_method',
  't.risk_score::float8 as risk_score',
  't.fraud_score::float8 as fraud_score',
  't.anomaly_score::float8 as anomaly_score',
  't.action_taken',
  't.mitigation_action',
  't.is_resolved',
  't.false_positive',
  't.analyst_notes',
  utc('resolved_at'),
  't.resolved_by',
];
const accessColumns = [
  't.id',
  utc('created_at'),
  't.user_id',
  't.request_id',
  't.method',
  't.endpoint',
  't.request_headers',
  't.request_body_hash',
  't.response_status',
  't.response_time_ms',
  't.bytes_sent',
  't.bytes_received',
  ip,
  't.user_agent',
  't.api_key_id',
  't.rate_limit_remaining',
];
const violationColumns = [
  't.id',
  utc('created_at'),
  't.user_id',
  ip,
  't.endpoint',
  't.request_count',
  't.limit_threshold',
  't.time_window_minutes',
  't.violation_type',
  't.user_agent',
  't.blocked_duration_minutes',
  utc('unblocked_at'),
];

const specs: Record<ListName, ListSpec> = {
  auditLogs: {
    table: 'audit_logs',
    columns: auditColumns.join(', '),
    filters: {
      user_id: ['user_id', 'equals'],
      admin_id: ['admin_id', 'equals'],
      entity_type: ['entity_type', 'equals'],
      entity_id: ['entity_id', 'equals'],
      action: ['action', 'equals'],
      event_type: ['event_type', 'equals'],
      event_status: ['event_status', 'equals'],
      request_id: ['request_id', 'equals'],
      ip: ['ip_address', 'ip'],
    },
  },
  loginAudits: {
    table: 'login_audits',
    columns: loginColumns.join(', '),
    filters: {
      user_id: ['user_id', 'equals'],
      admin_id: ['admin_id', 'equals'],
      login_type: ['login_type', 'equals'],
      status: ['status', 'equals'],
      ip: ['ip_address', 'ip'],
    },
  },
  securityEvents: {
    table: 'security_events',
    columns: eventColumns.join(', '),
    filters: {
      user_id: ['user_id', 'equals'],
      event_type: ['event_type', 'equals'],
      event_category: ['event_category', 'equals'],
      severity: ['severity', 'equals'],
      is_resolved: ['is_resolved', 'boolean'],
      false_positive: ['false_positive', 'boolean'],
      ip: ['ip_address', 'ip'],
    },
  },
  apiAccessLog: {
    table: 'api_access_log',
    columns: accessColumns.join(', '),
    filters: {
      user_id: ['user_id', 'equals'],
      method: ['method', 'equals'],
      endpoint: ['endpoint', 'equals'],
      response_status: ['response_status', 'equals'],
      request_id: ['request_id', 'equals'],
      ip: ['ip_address', 'ip'],
    },
  },
  rateLimitViolations: {
    table: 'rate_limit_violations',
    columns: violationColumns.join(', '),
    filters: {
      user_id: ['user_id', 'equals'],
      endpoint: ['endpoint', 'equals'],
      violation_type: ['violation_type', 'equals'],
      ip: ['ip_address', 'ip'],
    },
  },
  ownLoginHistory: {
    table: 'login_audits',
    columns: [
      't.id',
      utc('created_at'),
      't.login_type',
      't.status',
      ip,
      't.user_agent',
      't.device_info',
      't.failure_reason',
    ].join(', '),
    filters: { status: ['status', 'equals'] },
    owner: (userId) => sql`(t.user_id = ${userId} or t.admin_id = ${userId})`,
  },
  ownAuditLogs: {
    table: 'audit_logs',
    columns: [
      't.id',
      utc('created_at'),
      't.event_type',
      't.event_status',
      't.entity_type',
      't.entity_id',
      't.action',
      ip,
      't.user_agent',
      't.api_endpoint',
      't.request_method',
      't.status_code',
    ].join(', '),
    filters: { entity_type: ['entity_type', 'equals'], action: ['action', 'equals'] },
    owner: (userId) => sql`t.user_id = ${userId}`,
  },
};

export type ListRow = Record<string, unknown> & { id: string; cursor_time: string };

/** Where a page starts: after this (created_at, id), newest first. */
export interface PageStart {
  time: string;
  id: string;
}

function filterCondition(
  column: string,
  kind: FilterKind,
  value: string | number | boolean,
): RawBuilder<unknown> {
  const ref = sql.ref(`t.${column}`);
  if (kind === 'ip') return sql`${ref} <<= ${String(value)}::inet`;
  return sql`${ref} = ${value}`;
}

/**
 * One page of a list, newest first: keyset on (created_at, id) — the cursor carries the microsecond —
 * so rows committed in the same millisecond are neither skipped nor repeated at a page boundary.
 * Every column is qualified with `t.` (an unqualified ORDER BY name would take the text alias).
 */
export function listQuery(
  db: Kysely<Database>,
  name: ListName,
  tenantId: string,
  query: ListQuery,
  start: PageStart | undefined,
  ownerId?: string,
): CompiledQuery<ListRow> {
  const spec = specs[name];
  const conditions: RawBuilder<unknown>[] = [sql`t.tenant_id = ${tenantId}`];
  if (spec.owner) {
    assert.ok(ownerId !== undefined, `the ${name} list is read by its owner`);
    conditions.push(spec.owner(ownerId));
  }
  for (const [field, [column, kind]] of Object.entries(spec.filters)) {
    const value = query[field];
    if (value !== undefined) conditions.push(filterCondition(column, kind, value));
  }
  if (query.from) conditions.push(sql`t.created_at >= ${query.from}::timestamptz`);
  if (query.to) conditions.push(sql`t.created_at < ${query.to}::timestamptz`);
  if (start) conditions.push(sql`(t.created_at, t.id) < (${start.time}::timestamptz, ${start.id}::uuid)`);
  return sql<ListRow>`
    select ${sql.raw(spec.columns)},
           to_char(t.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_time
    from ${sql.table(spec.table)} t
    where ${sql.join(conditions, sql` and `)}
    order by t.created_at desc, t.id desc
    limit ${query.limit + 1}`.compile(db);
}

/** Runs a list's query in one round trip in the scope (the owner's for own lists: RLS applies). */
export function readList(
  database: DatabaseHandle,
  scope: Scope,
  query: CompiledQuery<ListRow>,
): Promise<ListRow[]> {
  return readInScope(database, scope, query);
}

export interface EventResolution {
  falsePositive: boolean;
  notes: string;
  resolvedBy: string;
}

/**
 * Resolves one open security event; one conditional UPDATE decides, so two analysts resolving at once
 * get one resolution. 'resolved' | 'already_resolved' | 'not_found'.
 */
export async function resolveSecurityEvent(
  transaction: ScopedTransaction,
  tenantId: string,
  eventId: string,
  resolution: EventResolution,
): Promise<'resolved' | 'already_resolved' | 'not_found'> {
  const updated = await transaction
    .updateTable('security_events')
    .set({
      is_resolved: true,
      resolved_at: sql`now()`,
      resolved_by: resolution.resolvedBy,
      false_positive: resolution.falsePositive,
      analyst_notes: resolution.notes,
    })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', eventId)
    .where('is_resolved', '=', false)
    .executeTakeFirst();
  if (updated.numUpdatedRows > 0n) return 'resolved';
  const found = await transaction
    .selectFrom('security_events')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('id', '=', eventId)
    .executeTakeFirst();
  return found ? 'already_resolved' : 'not_found';
}
