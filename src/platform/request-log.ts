import type { FastifyReply, FastifyRequest } from 'fastify';

const tagged = new WeakSet<FastifyRequest>();

/**
 * Once the authentication guard has set the principal, every later line of the request (the rejection,
 * Fastify's "request completed") names the tenant and the user it acted for. Fastify logs the
 * completion through reply.log, so both loggers are replaced by the same child.
 */
export function tagRequestLog(request: FastifyRequest, reply: FastifyReply): void {
  const principal = request.principal;
  if (!principal || tagged.has(request)) return;
  tagged.add(request);
  const log = request.log.child({ tenantId: principal.tenantId, userId: principal.userId });
  request.log = log;
  reply.log = log;
}
