import { Type } from '@sinclair/typebox';
import { DateTimeSchema, IdParamsSchema, UuidSchema } from '../../platform/schema-types.ts';

/** The request and response schemas of the data export routes (data-exports.routes.ts). */
export const DataExportParamsSchema = IdParamsSchema('The data export');

const StatusSchema = Type.Union([
  Type.Literal('requested'),
  Type.Literal('running'),
  Type.Literal('ready'),
  Type.Literal('failed'),
  Type.Literal('expired'),
]);

export const DataExportRequestedSchema = Type.Object(
  { id: UuidSchema(), status: StatusSchema, requested_at: DateTimeSchema() },
  {
    examples: [
      {
        id: '0193a1b2-0000-7000-8000-000000000003',
        status: 'requested',
        requested_at: '2026-12-07T23:00:00.000Z',
      },
    ],
  },
);

export const DataExportStatusSchema = Type.Object(
  {
    id: UuidSchema(),
    status: StatusSchema,
    requested_at: DateTimeSchema(),
    completed_at: Type.Union([DateTimeSchema(), Type.Null()]),
    expires_at: Type.Union([DateTimeSchema(), Type.Null()]),
    size_bytes: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
    sha256: Type.Union([Type.String({ pattern: '^[0-9a-f]{64}$' }), Type.Null()]),
  },
  {
    examples: [
      {
        id: '0193a1b2-0000-7000-8000-000000000003',
        status: 'ready',
        requested_at: '2026-12-07T23:00:00.000Z',
        completed_at: '2026-12-07T23:00:05.000Z',
        expires_at: '2026-12-14T23:00:05.000Z',
        size_bytes: 18231,
        sha256: 'a'.repeat(64),
      },
    ],
  },
);
