import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifySchemaValidationError,
} from 'fastify';
import {
  type DatabaseUnavailable,
  databaseUnavailable,
  databaseUnavailableLogFields,
  transactionConflict,
} from '../db/database-errors.ts';
import { AppError, type ErrorCode, type ErrorDetail, errorBody, errorCatalog } from './errors.ts';
import { newRequestId, requestIdHeader } from './request-id.ts';
import { tagRequestLog } from './request-log.ts';

/**
 * The one place that turns a thrown error into an HTTP response. Clients always get
 * `{ error: { code, message, details?, request_id } }`; a 5xx never carries the internal message or stack.
 */
interface ClientError {
  code: ErrorCode;
  status: number;
  message: string;
  details?: ErrorDetail[] | undefined;
}

/** Fastify's own request errors, mapped to the catalog by their stable codes. */
const fastifyErrorCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_BAD_URL: 'BAD_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG',
  FST_ERR_NOT_FOUND: 'ROUTE_NOT_FOUND',
};

/** Other 4xx errors (from plugins, http-errors) keep their meaning through their status. */
const statusCodes: Record<number, ErrorCode> = {
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  431: 'HEADERS_TOO_LARGE',
};

function fromCode(code: ErrorCode, message?: string, details?: ErrorDetail[]): ClientError {
  return { code, status: errorCatalog[code].status, message: message ?? errorCatalog[code].message, details };
}

/** `/items/0/amount` → `items.0.amount`, undoing JSON Pointer escapes. */
function pointerToPath(pointer: string): string[] {
  return pointer
    .split('/')
    .slice(1)
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
}

export function validationDetail(part: string, error: FastifySchemaValidationError): ErrorDetail {
  const path = [part, ...pointerToPath(error.instancePath)];
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required' && typeof params.missingProperty === 'string') {
    return { field: [...path, params.missingProperty].join('.'), reason: 'is required' };
  }
  if (error.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    return { field: [...path, params.additionalProperty].join('.'), reason: 'is not an allowed field' };
  }
  return { field: path.join('.'), reason: error.message ?? `fails the ${error.keyword} rule` };
}

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && ('code' in error || 'statusCode' in error);
}

/**
 * How long a client should wait before retrying a 503 (the Retry-After header). An outage rarely ends
 * within a second, and a fleet of clients retrying at once slows the recovery; a busy wallet clears fast.
 */
export const retryAfterSecondsDefault = 5;
const retryAfterSecondsByCode: Partial<Record<ErrorCode, number>> = { TRANSACTION_CONFLICT: 1 };

const transactionConflictMessage =
  'The request conflicted with another one running at the same time; retry it.';

export function toClientError(error: unknown): ClientError {
  if (error instanceof AppError) return fromCode(error.code, error.message, error.details);
  // Wherever it was thrown (the auth guard, the tenant resolver, a handler), a database that cannot be
  // reached is a 503 the client may retry: never a 500, never a 401 that would discard a valid token.
  if (databaseUnavailable(error)) return fromCode('SERVICE_UNAVAILABLE');
  // A deadlock or serialization failure that no retry absorbed: the request may be sent again.
  if (transactionConflict(error)) return fromCode('TRANSACTION_CONFLICT', transactionConflictMessage);
  if (!isFastifyError(error)) return fromCode('INTERNAL_ERROR');
  if (error.validation) {
    const part = error.validationContext ?? 'request';
    return fromCode(
      'VALIDATION_FAILED',
      undefined,
      error.validation.map((item) => validationDetail(part, item)),
    );
  }
  const mapped = fastifyErrorCodes[error.code];
  if (mapped) return fromCode(mapped);
  const status = error.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return fromCode(statusCodes[status] ?? 'BAD_REQUEST');
  }
  // Anything else, including a driver error that happens to carry a `code`, is a bug to hide.
  return fromCode('INTERNAL_ERROR');
}

function logRejection(
  request: FastifyRequest,
  error: unknown,
  clientError: ClientError,
  unavailable: DatabaseUnavailable | undefined,
): void {
  if (unavailable) {
    // An operating condition, not a bug: the SQLSTATE or errno says which, no stack is needed.
    const fields = { code: clientError.code, status: clientError.status };
    request.log.warn(
      { ...fields, database: databaseUnavailableLogFields(unavailable) },
      'request rejected: database unavailable',
    );
    return;
  }
  const conflict = error instanceof AppError ? undefined : transactionConflict(error);
  if (conflict) {
    // Lost a race with another transaction: an operating condition, retried by the client.
    request.log.warn(
      { code: clientError.code, status: clientError.status, sqlstate: conflict },
      'request rejected: transaction conflict',
    );
    return;
  }
  if (clientError.status >= 500 && !(error instanceof AppError)) {
    // The full error, stack included, goes to the log only; the client sees the catalog message.
    request.log.error({ err: error }, 'request failed');
  } else {
    // An AppError is an expected operating outcome (even a 503), not a bug: no stack needed.
    const level = clientError.status >= 500 ? 'warn' : 'info';
    request.log[level]({ code: clientError.code, status: clientError.status }, 'request rejected');
  }
}

export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const clientError = toClientError(error);
  request.errorCode = clientError.code;
  // A rejection after the guard set the principal (403) is logged with the tenant and user too.
  tagRequestLog(request, reply);
  const unavailable = error instanceof AppError ? undefined : databaseUnavailable(error);
  logRejection(request, error, clientError, unavailable);
  if (error instanceof AppError && error.retryAfterSeconds !== undefined) {
    reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterSeconds))));
  } else if (clientError.status === 503 && !reply.hasHeader('retry-after')) {
    const seconds = retryAfterSecondsByCode[clientError.code] ?? retryAfterSecondsDefault;
    reply.header('retry-after', String(seconds));
  }
  return (
    reply
      .code(clientError.status)
      .header(requestIdHeader, request.id)
      // Errors raised before routing skip the helmet hook; this one header matters for a JSON error body.
      .header('x-content-type-options', 'nosniff')
      .type('application/json; charset=utf-8')
      .send(errorBody(clientError.code, clientError.message, request.id, clientError.details))
  );
}

function answerTimeout(request: FastifyRequest, reply: FastifyReply): void {
  if (reply.raw.headersSent || reply.sent) return;
  reply.raw.once('finish', () => request.raw.socket.destroy());
  reply.header('connection', 'close');
  sendError(new AppError('REQUEST_TIMEOUT'), request, reply);
}

/**
 * Node's requestTimeout bounds a request only until its headers are parsed: a client that then sends
 * its body one byte every few seconds kept the request (and its socket and memory) open for as long as
 * it liked, since every byte also resets the socket inactivity timeout (issue 7 follow-up). So once
 * the headers are in, the body has what is left of REQUEST_TIMEOUT_MS — measured from here, the first
 * moment the request is visible — and a request whose body is still incomplete then is answered 408
 * REQUEST_TIMEOUT in the error shape and its socket closed. A request whose body has arrived is never
 * cut by this: a slow handler is the database timeouts' business. The socket inactivity timeout
 * (connectionTimeout) stays as the backstop for a client that stalls completely.
 */
function answerStalledRequests(app: FastifyInstance, requestTimeoutMs: number): void {
  app.addHook('onRequest', async (request, reply) => {
    if (!request.raw.complete) {
      const deadline = setTimeout(() => {
        if (!request.raw.complete) answerTimeout(request, reply);
      }, requestTimeoutMs);
      deadline.unref();
      reply.raw.once('close', () => clearTimeout(deadline));
    }
    request.raw.once('timeout', () => answerTimeout(request, reply));
  });
}

export function registerErrorHandlers(app: FastifyInstance, requestTimeoutMs: number): void {
  answerStalledRequests(app, requestTimeoutMs);
  app.setErrorHandler((error: unknown, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) => {
    const message = `No route for ${request.method} ${request.url.split('?')[0]}.`;
    return sendError(new AppError('ROUTE_NOT_FOUND', message.slice(0, 300)), request, reply);
  });
}

/** Errors of Node's HTTP parser and server, raised before a request object exists (`clientError`). */
function clientErrorCode(error: NodeJS.ErrnoException): ErrorCode {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT' || error.code === 'ERR_HTTP_HEADERS_TIMEOUT')
    return 'REQUEST_TIMEOUT';
  if (error.code === 'HPE_HEADER_OVERFLOW') return 'HEADERS_TOO_LARGE';
  // Node answers an oversized chunk extension 413 on its own; the same status, in the shape.
  if (error.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return 'PAYLOAD_TOO_LARGE';
  return 'BAD_REQUEST';
}

/**
 * Fastify's `clientErrorHandler`: answers what Node's parser rejects (a stalled request past
 * requestTimeout, headers over the size limit, a malformed request line or header) in the one error
 * shape, instead of Fastify's `{"error":"Request Timeout","statusCode":408}`. There is no request
 * here, so the id is a fresh one (Node has not parsed a header to read it from); the socket is closed
 * afterwards, as Node itself does, because the parser cannot continue on it.
 */
export function handleClientError(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody left to answer (Node's own clientError behaviour).
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code = clientErrorCode(error);
  const { status, message } = errorCatalog[code];
  const requestId = newRequestId();
  this.log.info({ code, status, parserError: error.code }, 'request rejected before routing');
  if (socket.writable) {
    const body = JSON.stringify(errorBody(code, message, requestId));
    socket.write(
      [
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}`,
        'Content-Type: application/json; charset=utf-8',
        `Content-Length: ${Buffer.byteLength(body)}`,
        `${requestIdHeader}: ${requestId}`,
        'X-Content-Type-Options: nosniff',
        'Connection: close',
        '',
        body,
      ].join('\r\n'),
    );
  }
  socket.destroy();
}

/**
 * Node answers a request whose `Expect` header is anything but `100-continue` with a bare 417 unless
 * the server listens for `checkExpectation`. This listener gives it the error shape (417
 * EXPECTATION_FAILED) and closes the connection, since the body the client holds back is never read.
 * `Expect: 100-continue` is not affected: Node sends `100 Continue` and the request runs normally.
 */
export function handleUnmetExpectation(
  this: FastifyInstance,
  request: IncomingMessage,
  response: ServerResponse,
): void {
  const code: ErrorCode = 'EXPECTATION_FAILED';
  const { status, message } = errorCatalog[code];
  const requestId = newRequestId();
  this.log.info({ code, status, method: request.method }, 'request rejected before routing');
  const body = JSON.stringify(errorBody(code, message, requestId));
  response.shouldKeepAlive = false;
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    [requestIdHeader]: requestId,
    'x-content-type-options': 'nosniff',
    connection: 'close',
  });
  response.end(body);
}

/** Node's own answers on a listener (parser errors, unmet expectations), all in the error shape. */
export function answerServerErrors(
  app: FastifyInstance,
  server: http.Server,
  withClientErrors: boolean,
): void {
  if (withClientErrors) server.on('clientError', handleClientError.bind(app));
  server.on('checkExpectation', handleUnmetExpectation.bind(app));
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The code of the error this request was answered with (security events read it). */
    errorCode?: string;
  }
}
