import { Type } from '@sinclair/typebox';
import { PageLimitSchema } from '../../platform/schema-types.ts';

export const OutboxQuerySchema = Type.Object(
  {
    to: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    limit: PageLimitSchema(20),
  },
  { additionalProperties: false },
);

export const OutboxResponseSchema = Type.Object(
  {
    messages: Type.Array(
      Type.Object({
        channel: Type.Union([Type.Literal('sms'), Type.Literal('email')]),
        to: Type.String(),
        subject: Type.Union([Type.String(), Type.Null()]),
        body: Type.String(),
        sent_at: Type.String({ format: 'date-time' }),
      }),
    ),
  },
  {
    examples: [
      {
        messages: [
          {
            channel: 'sms',
            to: '081234567801',
            subject: null,
            body: 'Your Corebank code is 493817. It expires in 5 minutes. Never share it.',
            sent_at: '2026-01-01T00:00:00.000Z',
          },
        ],
      },
    ],
  },
);
