import { Type } from '@sinclair/typebox';
import { IdParamsSchema } from '../../platform/schema-types.ts';

/** The request and response schemas of the session routes (sessions.routes.ts). */
export const RefreshBodySchema = Type.Object(
  { refresh_token: Type.String({ minLength: 10, maxLength: 200 }) },
  { additionalProperties: false, examples: [{ refresh_token: 'rt_3q2-…' }] },
);

export const RefreshResponseSchema = Type.Object(
  {
    access_token: Type.String(),
    refresh_token: Type.String(),
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Integer(),
    session_id: Type.String({ format: 'uuid' }),
  },
  {
    examples: [
      {
        access_token: 'eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0…',
        refresh_token: 'rt_9xk-…',
        token_type: 'Bearer',
        expires_in: 900,
        session_id: '0190a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6f',
      },
    ],
  },
);

export const LogoutAllBodySchema = Type.Object(
  { keep_current: Type.Boolean({ default: false }) },
  { additionalProperties: false, examples: [{ keep_current: true }] },
);

export const EndedResponseSchema = Type.Object(
  { sessions_ended: Type.Integer() },
  { examples: [{ sessions_ended: 2 }] },
);

export const SessionSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  device_type: Type.String(),
  device_id: Type.Union([Type.String(), Type.Null()]),
  device_name: Type.Union([Type.String(), Type.Null()]),
  provider: Type.String(),
  ip_address: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  mfa_verified: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
  last_activity_at: Type.String({ format: 'date-time' }),
  expires_at: Type.String({ format: 'date-time' }),
  absolute_expires_at: Type.String({ format: 'date-time' }),
  current: Type.Boolean(),
});

export const SessionListSchema = Type.Object(
  { sessions: Type.Array(SessionSchema) },
  {
    examples: [
      {
        sessions: [
          {
            id: '0190a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6f',
            device_type: 'android',
            device_id: 'device-7f3a',
            device_name: 'Pixel 8',
            provider: 'email',
            ip_address: '203.0.113.7',
            user_agent: 'Corebank/1.0 (Android 14)',
            mfa_verified: true,
            created_at: '2026-01-01T00:00:00.000Z',
            last_activity_at: '2026-01-01T00:10:00.000Z',
            expires_at: '2026-01-01T00:40:00.000Z',
            absolute_expires_at: '2026-01-08T00:00:00.000Z',
            current: true,
          },
        ],
      },
    ],
  },
);

export const SessionParamsSchema = IdParamsSchema('One of your sessions.');
