import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.ts';
import { type ErrorCode, errorCatalog } from './errors.ts';

export const errorResponseSchemaId = 'ErrorResponse';

/** The one error shape every route answers with, shared as `#/components/schemas/ErrorResponse`. */
export const ErrorResponseSchema = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.Unsafe<ErrorCode>({ type: 'string', enum: Object.keys(errorCatalog) }),
        message: Type.String({ maxLength: 1000 }),
        details: Type.Optional(
          Type.Array(
            Type.Object(
              { field: Type.Optional(Type.String()), reason: Type.String() },
              { additionalProperties: false },
            ),
          ),
        ),
        request_id: Type.String({ maxLength: 64 }),
      },
      { additionalProperties: false },
    ),
  },
  {
    $id: errorResponseSchemaId,
    additionalProperties: false,
    examples: [
      {
        error: {
          code: 'VALIDATION_FAILED',
          message: 'The request is not valid.',
          details: [{ field: 'body.amount', reason: 'must be integer' }],
          request_id: '0190a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e',
        },
      },
    ],
  },
);

export type ErrorResponse = Static<typeof ErrorResponseSchema>;

/** A `$ref` to the shared error shape, for a route's `response` map: `{ 404: errorResponse }`. */
export const errorResponse = Type.Ref(ErrorResponseSchema);

/** The same reference for several statuses: `response: { 200: Ok, ...errorResponses(400, 404) }`. */
export function errorResponses(...statuses: number[]): Record<number, typeof errorResponse> {
  return Object.fromEntries(statuses.map((status) => [status, errorResponse]));
}

export const documentationPrefix = '/docs';

/** swagger-ui's own CSP, minus the HTTPS upgrade that would break the docs on a plain-HTTP development server. */
function documentationCsp(config: Config): ((header: string) => string) | undefined {
  if (config.environment === 'production') return undefined;
  return (header) => header.replace(/\s*upgrade-insecure-requests;?/, '');
}

/** OpenAPI 3.1 at GET /openapi.json and interactive docs at /docs. Register before any module's routes. */
export async function registerOpenApi(app: FastifyInstance, config: Config): Promise<void> {
  app.addSchema(ErrorResponseSchema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Corebank API',
        version: '0.1.0',
        description: 'Multi-tenant banking backend. Every error answers with the ErrorResponse shape.',
      },
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
    // Shared schemas keep their $id as their component name instead of `def-0`.
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, index) => String(json.$id ?? `def-${index}`),
    },
  });
  const transformStaticCSP = documentationCsp(config);
  await app.register(swaggerUi, {
    routePrefix: documentationPrefix,
    staticCSP: true,
    ...(transformStaticCSP ? { transformStaticCSP } : {}),
  });
  app.get('/openapi.json', { config: { permission: 'public' }, schema: { hide: true } }, async () =>
    app.swagger(),
  );
}
