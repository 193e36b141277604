import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifySchemaValidationError,
} from 'fastify';
import { AppError, type ErrorCode, type ErrorDetail, errorBody, errorCatalog } from './errors.ts';
import { requestIdHeader } from './request-id.ts';

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

export function toClientError(error: unknown): ClientError {
  if (error instanceof AppError) return fromCode(error.code, error.message, error.details);
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

export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const clientError = toClientError(error);
  if (clientError.status >= 500 && !(error instanceof AppError)) {
    // The full error, stack included, goes to the log only; the client sees the catalog message.
    request.log.error({ err: error }, 'request failed');
  } else {
    // An AppError is an expected operating outcome (even a 503), not a bug: no stack needed.
    const level = clientError.status >= 500 ? 'warn' : 'info';
    request.log[level]({ code: clientError.code, status: clientError.status }, 'request rejected');
  }
  if (error instanceof AppError && error.retryAfterSeconds !== undefined) {
    reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterSeconds))));
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

export function registerErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) => {
    const message = `No route for ${request.method} ${request.url.split('?')[0]}.`;
    return sendError(new AppError('ROUTE_NOT_FOUND', message.slice(0, 300)), request, reply);
  });
}
