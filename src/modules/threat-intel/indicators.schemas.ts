import { type Static, Type } from '@sinclair/typebox';
import { CursorQuerySchema, NextCursorSchema } from '../../platform/pagination.ts';
import { DateTimeSchema, PageLimitSchema } from '../../platform/schema-types.ts';

/** The most indicators one import takes. */
export const importRowsMax = 5000;
/** An import's body: 5,000 rows of a few hundred bytes. */
export const importBodyBytesMax = 2 * 1024 * 1024;

const IndicatorTypeSchema = Type.Union([
  Type.Literal('ip'),
  Type.Literal('domain'),
  Type.Literal('email'),
  Type.Literal('hash'),
]);
const SeveritySchema = Type.Union([
  Type.Literal('low'),
  Type.Literal('medium'),
  Type.Literal('high'),
  Type.Literal('critical'),
]);

const indicatorFields = {
  indicator_type: IndicatorTypeSchema,
  indicator_value: Type.String({ minLength: 1, maxLength: 500, examples: ['203.0.113.0/24'] }),
  threat_type: Type.String({ minLength: 1, maxLength: 100, examples: ['brute_force'] }),
  severity: SeveritySchema,
  confidence: Type.Integer({ minimum: 0, maximum: 100, default: 50 }),
  source: Type.String({ minLength: 1, maxLength: 100, default: 'manual' }),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  expires_at: Type.Optional(DateTimeSchema({ description: 'When the indicator stops applying.' })),
};

export const IndicatorBodySchema = Type.Object(indicatorFields, { additionalProperties: false });
export type IndicatorBody = Static<typeof IndicatorBodySchema>;

export const IndicatorChangesSchema = Type.Object(
  {
    threat_type: Type.Optional(indicatorFields.threat_type),
    severity: Type.Optional(SeveritySchema),
    confidence: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    expires_at: Type.Optional(Type.Union([DateTimeSchema(), Type.Null()])),
    is_active: Type.Optional(Type.Boolean({ description: 'false deactivates the indicator.' })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type IndicatorChanges = Static<typeof IndicatorChangesSchema>;

/**
 * One JSON import row: typed loosely (text within bounds) so that a bad value is reported for its row
 * rather than refusing the whole import; import.ts checks each value.
 */
const ImportItemSchema = Type.Object(
  {
    indicator_type: Type.Optional(Type.String({ maxLength: 10 })),
    indicator_value: Type.Optional(Type.String({ maxLength: 500 })),
    threat_type: Type.Optional(Type.String({ maxLength: 100 })),
    severity: Type.Optional(Type.String({ maxLength: 10 })),
    confidence: Type.Optional(Type.Integer({ minimum: -1_000_000, maximum: 1_000_000 })),
    source: Type.Optional(Type.String({ maxLength: 100 })),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    expires_at: Type.Optional(Type.String({ maxLength: 35 })),
  },
  { additionalProperties: false },
);

export const ImportBodySchema = Type.Object(
  {
    format: Type.Union([Type.Literal('json'), Type.Literal('csv')]),
    indicators: Type.Optional(Type.Array(ImportItemSchema, { maxItems: importRowsMax })),
    csv: Type.Optional(
      Type.String({
        maxLength: importBodyBytesMax,
        description:
          'CSV text with a header row: indicator_type, indicator_value, threat_type, severity, and optionally confidence, source, description, expires_at.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ImportBody = Static<typeof ImportBodySchema>;

export const IndicatorSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  shared: Type.Boolean({ description: 'A shared feed every tenant reads (read-only here).' }),
  indicator_type: Type.String(),
  indicator_value: Type.String(),
  threat_type: Type.String(),
  severity: Type.String(),
  confidence: Type.Number(),
  source: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  first_seen: Type.String({ format: 'date-time' }),
  last_seen: Type.String({ format: 'date-time' }),
  expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  is_active: Type.Boolean(),
});
export type IndicatorView = Static<typeof IndicatorSchema>;

export const IndicatorListQuerySchema = Type.Object(
  {
    indicator_type: Type.Optional(IndicatorTypeSchema),
    is_active: Type.Optional(Type.Boolean()),
    limit: PageLimitSchema(50),
    cursor: CursorQuerySchema,
  },
  { additionalProperties: false },
);
export type IndicatorListQuery = Static<typeof IndicatorListQuerySchema>;

export const IndicatorListSchema = Type.Object({
  indicators: Type.Array(IndicatorSchema, { maxItems: 100 }),
  next_cursor: NextCursorSchema,
});

export const ImportResultSchema = Type.Object({
  imported: Type.Integer({ description: 'Rows written (new or refreshed).' }),
  rejected: Type.Integer(),
  errors: Type.Array(
    Type.Object({ row: Type.Integer({ minimum: 1 }), field: Type.String(), reason: Type.String() }),
    { maxItems: importRowsMax },
  ),
});
export type ImportResult = Static<typeof ImportResultSchema>;
