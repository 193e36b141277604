import { type Static, Type } from '@sinclair/typebox';

export const LivenessSchema = Type.Object(
  {
    status: Type.Literal('ok'),
    uptime_seconds: Type.Integer({ minimum: 0, description: 'Whole seconds since this process started.' }),
  },
  { additionalProperties: false, examples: [{ status: 'ok', uptime_seconds: 3600 }] },
);

export type Liveness = Static<typeof LivenessSchema>;

export const ReadinessSchema = Type.Object(
  {
    status: Type.Literal('ready'),
    engine: Type.Union([Type.Literal('pglite'), Type.Literal('postgres')]),
    migrations: Type.Object(
      {
        applied: Type.Integer({ minimum: 0 }),
        pending: Type.Literal(0),
      },
      { additionalProperties: false },
    ),
  },
  {
    additionalProperties: false,
    examples: [{ status: 'ready', engine: 'postgres', migrations: { applied: 5, pending: 0 } }],
  },
);

export type Readiness = Static<typeof ReadinessSchema>;
