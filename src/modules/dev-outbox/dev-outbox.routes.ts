import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { OutboxQuerySchema, OutboxResponseSchema } from './dev-outbox.schemas.ts';
import type { MessageOutbox } from './message-outbox.ts';

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
