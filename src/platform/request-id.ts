import type { IncomingMessage } from 'node:http';
import { v7 as uuidv7 } from 'uuid';

export const requestIdHeader = 'x-request-id';

/**
 * A caller's id is kept so one request can be followed across services, but only when it is short and
 * plain: it is echoed in headers, bodies and log lines, where anything else could inject content.
 */
const safeRequestId = /^[A-Za-z0-9._-]{1,64}$/;

/** A fresh id, for answers written before a request exists (Node's parser rejected it). */
export function newRequestId(): string {
  return uuidv7();
}

export function generateRequestId(request: IncomingMessage): string {
  const incoming = request.headers[requestIdHeader];
  if (typeof incoming === 'string' && safeRequestId.test(incoming)) return incoming;
  return newRequestId();
}
