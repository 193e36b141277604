import type { FastifyRequest } from 'fastify';

/**
 * What a route learned while doing its work that detection can use after the response instead of
 * reading it again (issue 10's benchmark): set by the money routes, read by the detection plugin.
 */
declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The sender's posted transfers in the current and previous velocity windows, an upper bound of the
     * velocity rule's count (migration 0018), as the transfer statement answered it; undefined when the
     * statement did not count (detection off, a replay, a refusal).
     */
    velocityTransfers?: number | undefined;
  }
}

export function recordVelocityTransfers(request: FastifyRequest, transfers: number | undefined): void {
  if (transfers !== undefined) request.velocityTransfers = transfers;
}
