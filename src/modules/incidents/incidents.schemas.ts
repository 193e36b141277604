import { type Static, Type } from '@sinclair/typebox';
import type { IncidentStatus } from '../../db/schema.ts';
import { CursorQuerySchema, NextCursorSchema } from '../../platform/pagination.ts';
import { PageLimitSchema, UuidSchema } from '../../platform/schema-types.ts';

/** Seed 003 security_incidents: open → investigating → resolved → closed. */
/** The moves an incident may make; closed is final, a resolved incident may be reopened for investigation. */
export const incidentTransitions: Record<IncidentStatus, readonly IncidentStatus[]> = {
  open: ['investigating', 'resolved'],
  investigating: ['resolved'],
  resolved: ['closed', 'investigating'],
  closed: [],
};

const SeveritySchema = Type.Union([
  Type.Literal('low'),
  Type.Literal('medium'),
  Type.Literal('high'),
  Type.Literal('critical'),
]);
const StatusSchema = Type.Union([
  Type.Literal('open'),
  Type.Literal('investigating'),
  Type.Literal('resolved'),
  Type.Literal('closed'),
]);
const linkedIds = (what: string) =>
  Type.Optional(
    Type.Array(UuidSchema(), { maxItems: 100, uniqueItems: true, description: `Linked ${what}.` }),
  );

export const IncidentBodySchema = Type.Object(
  {
    incident_type: Type.String({
      minLength: 1,
      maxLength: 100,
      pattern: '^[a-z0-9_]+$',
      examples: ['account_takeover'],
    }),
    severity: SeveritySchema,
    priority: Type.Optional(SeveritySchema),
    title: Type.String({ minLength: 3, maxLength: 500 }),
    description: Type.Optional(Type.String({ maxLength: 10_000 })),
    assigned_to: Type.Optional(UuidSchema({ description: 'A staff member of the tenant.' })),
    related_threat_ids: linkedIds('threat events'),
    related_event_ids: linkedIds('security events'),
  },
  { additionalProperties: false },
);
export type IncidentBody = Static<typeof IncidentBodySchema>;

export const IncidentChangesSchema = Type.Object(
  {
    status: Type.Optional(StatusSchema),
    priority: Type.Optional(SeveritySchema),
    severity: Type.Optional(SeveritySchema),
    assigned_to: Type.Optional(Type.Union([UuidSchema(), Type.Null()])),
    description: Type.Optional(Type.String({ maxLength: 10_000 })),
    add_threat_ids: linkedIds('threat events to add'),
    add_event_ids: linkedIds('security events to add'),
    note: Type.Optional(
      Type.String({ minLength: 1, maxLength: 5000, description: 'Recorded in the timeline.' }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type IncidentChanges = Static<typeof IncidentChangesSchema>;

export const IncidentSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  incident_type: Type.String(),
  severity: Type.String(),
  status: Type.String(),
  priority: Type.String(),
  title: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  assigned_to: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  related_threat_ids: Type.Array(Type.String({ format: 'uuid' }), { maxItems: 10_000 }),
  related_event_ids: Type.Array(Type.String({ format: 'uuid' }), { maxItems: 10_000 }),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  resolved_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  closed_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export type IncidentView = Static<typeof IncidentSchema>;

const TimelineEntrySchema = Type.Object({
  at: Type.String({ format: 'date-time' }),
  action: Type.String(),
  by: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  changes: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
});
export type TimelineEntry = Static<typeof TimelineEntrySchema>;

export const IncidentDetailSchema = Type.Object({
  incident: IncidentSchema,
  timeline: Type.Array(TimelineEntrySchema, { maxItems: 1000 }),
});

export const IncidentListQuerySchema = Type.Object(
  {
    status: Type.Optional(StatusSchema),
    severity: Type.Optional(SeveritySchema),
    priority: Type.Optional(SeveritySchema),
    assigned_to: Type.Optional(UuidSchema()),
    limit: PageLimitSchema(50),
    cursor: CursorQuerySchema,
  },
  { additionalProperties: false },
);
export type IncidentListQuery = Static<typeof IncidentListQuerySchema>;

export const IncidentListSchema = Type.Object({
  incidents: Type.Array(IncidentSchema, { maxItems: 100 }),
  next_cursor: NextCursorSchema,
});

export const ThreatSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  threat_type: Type.String(),
  severity: Type.String(),
  status: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  indicators: Type.Array(Type.String(), { maxItems: 10_000 }),
  affected_user_ids: Type.Array(Type.String(), { maxItems: 10_000 }),
  detection_method: Type.Union([Type.String(), Type.Null()]),
  confidence: Type.Union([Type.Number(), Type.Null()]),
  response_action: Type.Union([Type.String(), Type.Null()]),
  response_status: Type.Union([Type.String(), Type.Null()]),
  detected_at: Type.String({ format: 'date-time' }),
  mitigated_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  resolved_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export type ThreatView = Static<typeof ThreatSchema>;

export const ThreatListQuerySchema = Type.Object(
  {
    status: Type.Optional(
      Type.Union([
        Type.Literal('detected'),
        Type.Literal('investigating'),
        Type.Literal('mitigated'),
        Type.Literal('resolved'),
      ]),
    ),
    severity: Type.Optional(SeveritySchema),
    threat_type: Type.Optional(Type.String({ minLength: 1, maxLength: 100, pattern: '^[a-z0-9_]+$' })),
    limit: PageLimitSchema(50),
    cursor: CursorQuerySchema,
  },
  { additionalProperties: false },
);
export type ThreatListQuery = Static<typeof ThreatListQuerySchema>;

export const ThreatListSchema = Type.Object({
  threats: Type.Array(ThreatSchema, { maxItems: 100 }),
  next_cursor: NextCursorSchema,
});
