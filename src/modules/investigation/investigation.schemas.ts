import { type Static, type TObject, type TProperties, Type } from '@sinclair/typebox';
import { CursorQuerySchema, NextCursorSchema } from '../../platform/pagination.ts';
import { DateTimeSchema, PageLimitSchema, UuidSchema } from '../../platform/schema-types.ts';

/**
 * The investigation lists (issue 10 item 8): staff read the audit log, login audits, security events,
 * the API access log and rate-limit violations with the filters the seeds list; a customer reads their
 * own login history and audit entries. Newest first, keyset pages on (created_at, id); an export
 * answers the same rows as CSV.
 */

/** The most rows one CSV export answers; page with the `x-next-cursor` header for more. */
export const exportRowsMax = 10_000;

const nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);
const text = (maxLength: number) => nullable(Type.String({ maxLength }));
const integer = () => Type.Union([Type.Integer(), Type.Null()]);
const score = () => Type.Union([Type.Number({ minimum: 0, maximum: 100 }), Type.Null()]);
const json = () => Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]);
const time = () => Type.String({ format: 'date-time' });
const uuid = () => nullable(Type.String({ format: 'uuid' }));

const IpFilterSchema = Type.String({
  minLength: 2,
  maxLength: 49,
  pattern: '^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$',
  description: 'An IPv4 or IPv6 address, or a CIDR range (10.0.0.0/8) that contains it.',
});

function filterText(maxLength: number, description?: string) {
  return Type.Optional(Type.String({ minLength: 1, maxLength, ...(description ? { description } : {}) }));
}

/** An id that is not a uuid: an audit entity id (`import`, an account number) or a request id. */
function filterId(maxLength: number) {
  return Type.Optional(
    Type.String({ minLength: 1, maxLength, pattern: `^[A-Za-z0-9._:-]{1,${maxLength}}$` }),
  );
}

const rangeFilters = {
  from: Type.Optional(DateTimeSchema({ description: 'Rows at or after this instant.' })),
  to: Type.Optional(DateTimeSchema({ description: 'Rows before this instant.' })),
};

/**
 * The query of one list: its filters, the time range and a page (`limit`, at most 100). An export is
 * not a page: it takes `rows`, up to exportRowsMax.
 */
function listQuery(filters: TProperties, exportRows = false): TObject {
  const size: TProperties = exportRows
    ? {
        rows: Type.Integer({
          minimum: 1,
          maximum: exportRowsMax,
          default: 1000,
          description: `Rows to export, 1-${exportRowsMax}.`,
        }),
      }
    : { limit: PageLimitSchema(50) };
  return Type.Object(
    { ...filters, ...rangeFilters, cursor: CursorQuerySchema, ...size },
    { additionalProperties: false },
  );
}

const severity = Type.Union(['low', 'medium', 'high', 'critical'].map((value) => Type.Literal(value)));

export const listFilters = {
  auditLogs: {
    user_id: Type.Optional(UuidSchema()),
    admin_id: Type.Optional(UuidSchema()),
    entity_type: filterText(50),
    entity_id: filterId(100),
    action: filterText(50),
    event_type: filterText(100),
    event_status: Type.Optional(Type.Union(['SUCCESS', 'FAILED', 'BLOCKED'].map((v) => Type.Literal(v)))),
    request_id: filterId(64),
    ip: Type.Optional(IpFilterSchema),
  },
  loginAudits: {
    user_id: Type.Optional(UuidSchema()),
    admin_id: Type.Optional(UuidSchema()),
    login_type: Type.Optional(
      Type.Union(['user_login', 'admin_login', 'user_logout', 'admin_logout'].map((v) => Type.Literal(v))),
    ),
    status: Type.Optional(Type.Union(['success', 'failed', 'blocked'].map((v) => Type.Literal(v)))),
    ip: Type.Optional(IpFilterSchema),
  },
  securityEvents: {
    user_id: Type.Optional(UuidSchema()),
    event_type: filterText(100),
    event_category: filterText(50),
    severity: Type.Optional(severity),
    is_resolved: Type.Optional(Type.Boolean()),
    false_positive: Type.Optional(Type.Boolean()),
    ip: Type.Optional(IpFilterSchema),
  },
  apiAccessLog: {
    user_id: Type.Optional(UuidSchema()),
    method: filterText(10),
    endpoint: filterText(255, 'The route pattern, e.g. /v1/me/balances.'),
    response_status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
    request_id: filterId(64),
    ip: Type.Optional(IpFilterSchema),
  },
  rateLimitViolations: {
    user_id: Type.Optional(UuidSchema()),
    endpoint: filterText(255),
    violation_type: filterText(50),
    ip: Type.Optional(IpFilterSchema),
  },
  ownLoginHistory: {
    status: Type.Optional(Type.Union(['success', 'failed', 'blocked'].map((v) => Type.Literal(v)))),
  },
  ownAuditLogs: {
    entity_type: filterText(50),
    action: filterText(50),
  },
} as const;

export type ListName = keyof typeof listFilters;

export const listNames: readonly ListName[] = [
  'auditLogs',
  'loginAudits',
  'securityEvents',
  'apiAccessLog',
  'rateLimitViolations',
  'ownLoginHistory',
  'ownAuditLogs',
];

/** The query schema of a list (a page of at most 100) or of its export (up to exportRowsMax rows). */
export function querySchema(name: ListName, exportRows: boolean): TObject {
  return listQuery(listFilters[name], exportRows);
}

/** Any list's query once validated: filters by name, the range and the page. */
export type ListQuery = Record<string, string | number | boolean | undefined> & {
  limit: number;
  cursor?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
};

const AuditLogRowSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  created_at: time(),
  user_id: uuid(),
  admin_id: uuid(),
  event_type: Type.String(),
  event_status: Type.String(),
  entity_type: Type.String(),
  entity_id: Type.String(),
  action: Type.String(),
  old_values: json(),
  new_values: json(),
  ip_address: text(45),
  user_agent: text(1000),
  api_endpoint: text(255),
  request_method: text(10),
  status_code: integer(),
  request_id: text(64),
  correlation_id: Type.String({ format: 'uuid' }),
  device_fingerprint: text(255),
  location: json(),
  details: json(),
  risk_score: integer(),
  chain_sequence: text(20),
  sealed: Type.Boolean(),
});

const LoginAuditRowSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  created_at: time(),
  user_id: uuid(),
  admin_id: uuid(),
  login_type: Type.String(),
  status: Type.String(),
  ip_address: text(45),
  user_agent: text(255),
  device_info: json(),
  failure_reason: text(255),
});

const SecurityEventRowSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  created_at: time(),
  user_id: uuid(),
  event_type: Type.String(),
  event_category: Type.String(),
  severity: Type.String(),
  threat_type: text(100),
  ip_address: text(45),
  device_fingerprint: text(255),
  user_agent: text(2000),
  geolocation: json(),
  description: text(5000),
  details: json(),
  metadata: json(),
  target_resource: text(255),
  attack_vector: text(100),
  detection_method: text(100),
  risk_score: score(),
  fraud_score: score(),
  anomaly_score: score(),
  action_taken: text(50),
  mitigation_action: text(100),
  is_resolved: Type.Boolean(),
  false_positive: Type.Boolean(),
  analyst_notes: text(5000),
  resolved_at: nullable(time()),
  resolved_by: text(255),
});

const ApiAccessRowSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  created_at: time(),
  user_id: uuid(),
  request_id: Type.String(),
  method: Type.String(),
  endpoint: Type.String(),
  request_headers: json(),
  request_body_hash: text(64),
  response_status: integer(),
  response_time_ms: integer(),
  bytes_sent: Type.Integer(),
  bytes_received: Type.Integer(),
  ip_address: text(45),
  user_agent: text(2000),
  api_key_id: text(64),
  rate_limit_remaining: integer(),
});

const RateLimitViolationRowSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  created_at: time(),
  user_id: uuid(),
  ip_address: text(45),
  endpoint: Type.String(),
  request_count: Type.Integer(),
  limit_threshold: Type.Integer(),
  time_window_minutes: Type.Integer(),
  violation_type: text(50),
  user_agent: text(2000),
  blocked_duration_minutes: Type.Integer(),
  unblocked_at: nullable(time()),
});

const OwnLoginRowSchema = Type.Pick(LoginAuditRowSchema, [
  'id',
  'created_at',
  'login_type',
  'status',
  'ip_address',
  'user_agent',
  'device_info',
  'failure_reason',
]);

const OwnAuditRowSchema = Type.Pick(AuditLogRowSchema, [
  'id',
  'created_at',
  'event_type',
  'event_status',
  'entity_type',
  'entity_id',
  'action',
  'ip_address',
  'user_agent',
  'api_endpoint',
  'request_method',
  'status_code',
]);

export const rowSchemas = {
  auditLogs: AuditLogRowSchema,
  loginAudits: LoginAuditRowSchema,
  securityEvents: SecurityEventRowSchema,
  apiAccessLog: ApiAccessRowSchema,
  rateLimitViolations: RateLimitViolationRowSchema,
  ownLoginHistory: OwnLoginRowSchema,
  ownAuditLogs: OwnAuditRowSchema,
} satisfies Record<ListName, TObject>;

/** The page of a list; typed loosely because one route shape serves every list (the SQL names the columns). */
export function pageSchema(name: ListName): TObject {
  return Type.Object(
    { items: Type.Array(rowSchemas[name], { maxItems: 100 }), next_cursor: NextCursorSchema },
    { additionalProperties: false },
  );
}

export const ResolveEventBodySchema = Type.Object(
  {
    false_positive: Type.Boolean({ default: false, description: 'True: the event was not an attack.' }),
    notes: Type.String({ minLength: 1, maxLength: 5000, description: "The analyst's notes." }),
  },
  { additionalProperties: false },
);
export type ResolveEventBody = Static<typeof ResolveEventBodySchema>;

const count = () => Type.Integer({ minimum: 0 });

export const SecuritySummarySchema = Type.Object({
  generated_at: Type.String({ format: 'date-time' }),
  server_errors_last_hour: count(),
  failed_logins_last_15_minutes: count(),
  active_users_last_24_hours: count(),
  active_sessions: count(),
  failed_logins_by_address_last_hour: Type.Array(
    Type.Object({ ip_address: Type.String(), failures: count() }),
    {
      maxItems: 10,
    },
  ),
  top_offending_addresses_last_24_hours: Type.Array(
    Type.Object({ ip_address: Type.String(), events: count() }),
    {
      maxItems: 10,
    },
  ),
  open_incidents_by_severity: Type.Array(Type.Object({ severity: Type.String(), incidents: count() }), {
    maxItems: 4,
  }),
  large_outgoing_last_24_hours: Type.Object({
    amount_min: Type.Integer(),
    entries: Type.Array(
      Type.Object({
        id: Type.String({ format: 'uuid' }),
        user_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
        asset: Type.String(),
        amount: Type.Integer(),
        type: Type.String(),
        created_at: Type.String({ format: 'date-time' }),
      }),
      { maxItems: 10 },
    ),
  }),
});
