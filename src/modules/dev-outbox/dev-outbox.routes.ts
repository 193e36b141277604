import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { PageLimitSchema } from '../../platform/schema-types.ts';
import type { MessageOutbox } from './message-outbox.ts';

const OutboxQuerySchema = Type.Object(
  {
    to: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    limit: PageLimitSchema(20),
  },
  { additionalProperties: false },
);

const OutboxResponseSchema = Type.Object(
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

/**
 * GET /v1/dev/outbox: the messages the development outbox holds. Registered only when the message
 * sender is the outbox, which it never is in production, so the route does not exist there.
 */
export const devOutboxRoutes: FastifyPluginAsyncTypebox<{ outbox: MessageOutbox }> = async (app, options) => {
  app.get(
    '/v1/dev/outbox',
    {
      config: { permission: 'public' },
      schema: {
        tags: ['development'],
        summary: 'List messages sent to the development outbox (development and test only)',
        querystring: OutboxQuerySchema,
        response: { 200: OutboxResponseSchema },
      },
    },
    async (request) => ({
      messages: options.outbox.list(request.query.to, request.query.limit).map((message) => ({
        channel: message.channel,
        to: message.to,
        subject: message.subject ?? null,
        body: message.body,
        sent_at: message.sentAt.toISOString(),
      })),
    }),
  );
};
