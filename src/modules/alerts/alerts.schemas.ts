import { type Static, Type } from '@sinclair/typebox';
import { CursorQuerySchema, NextCursorSchema } from '../../platform/pagination.ts';
import { PageLimitSchema } from '../../platform/schema-types.ts';

export const AlertListQuerySchema = Type.Object(
  {
    status: Type.Optional(
      Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('dead')], {
        description: 'dead: the dead letters, whose last attempt failed.',
        examples: ['dead'],
      }),
    ),
    sink: Type.Optional(Type.Union([Type.Literal('log'), Type.Literal('webhook')])),
    limit: PageLimitSchema(50),
    cursor: CursorQuerySchema,
  },
  { additionalProperties: false },
);
export type AlertListQuery = Static<typeof AlertListQuerySchema>;

const nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

export const AlertSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  sink: Type.String({ maxLength: 20 }),
  status: Type.String({ maxLength: 20 }),
  event_source: Type.String({ maxLength: 20, description: 'security_event or threat_event.' }),
  event_id: Type.String({ format: 'uuid' }),
  event_type: nullable(Type.String({ maxLength: 100 })),
  severity: nullable(Type.String({ maxLength: 20 })),
  event_created_at: Type.String({ format: 'date-time' }),
  attempts: Type.Integer({ minimum: 0 }),
  next_attempt_at: Type.String({ format: 'date-time' }),
  last_error: nullable(Type.String({ maxLength: 500, description: 'Why the last attempt failed.' })),
  delivered_at: nullable(Type.String({ format: 'date-time' })),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
export type AlertView = Static<typeof AlertSchema>;

export const AlertListSchema = Type.Object({
  alerts: Type.Array(AlertSchema, { maxItems: 100 }),
  next_cursor: NextCursorSchema,
});
