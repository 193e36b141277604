import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.ts';
import { type ErrorCode, errorCatalog } from './errors.ts';
import { documentRoute, errorCodesKey } from './openapi-conventions.ts';

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

/**
 * The error responses of a route, named by the catalog codes its handler can answer with:
 * `response: { 200: Ok, ...errorResponses('NOT_FOUND', 'HOLD_NOT_ACTIVE') }`. Codes every route of the
 * kind can return (VALIDATION_FAILED, UNAUTHENTICATED, …) are added by openapi-conventions.ts; a bare
 * status (`errorResponses(409)`) documents every catalog code of that status.
 */
export function errorResponses(...entries: (ErrorCode | number)[]): Record<number, typeof errorResponse> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const entry of entries) {
    const status = typeof entry === 'number' ? entry : errorCatalog[entry].status;
    const codes = byStatus.get(status) ?? [];
    if (typeof entry === 'string') codes.push(entry);
    byStatus.set(status, codes);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, codes]) => [
      status,
      Type.Ref(ErrorResponseSchema, { [errorCodesKey]: codes }),
    ]),
  );
}

export const documentationPrefix = '/docs';

/** swagger-ui's own CSP, minus the HTTPS upgrade that would break the docs on a plain-HTTP development server. */
function documentationCsp(config: Config): ((header: string) => string) | undefined {
  if (config.environment === 'production') return undefined;
  return (header) => header.replace(/\s*upgrade-insecure-requests;?/, '');
}

/** Every tag a route may use, described; the document test fails a tag missing here. */
export const documentTags = [
  { name: 'health', description: 'Liveness and readiness probes for orchestrators and load balancers.' },
  {
    name: 'auth',
    description: 'Logging in (banking PIN + OTP, staff password + TOTP, email), refreshing and logging out.',
  },
  { name: 'sessions', description: 'Your active sessions on every device, and ending them.' },
  { name: 'profile', description: 'The authenticated user: identity, status, permissions and profile.' },
  { name: 'mfa', description: 'Two-factor authentication: TOTP enrolment, backup codes, trusted devices.' },
  { name: 'staff', description: 'Staff management of users: search, block, unlock, deactivate, reset MFA.' },
  { name: 'development', description: 'Development only: the outbox that stands in for SMS and email.' },
  {
    name: 'money',
    description: 'Balances, statements, top-ups, transfers and withdrawals, in integer minor units.',
  },
  { name: 'admin', description: 'Staff-only operations (a second tag beside the feature tag).' },
  { name: 'bank-accounts', description: 'External bank accounts a customer links for withdrawals.' },
  { name: 'kyc', description: 'Know-your-customer submissions and their review by officers.' },
  {
    name: 'investigation',
    description:
      'Staff: the audit log, login audits, security events, the API access log and rate-limit violations.',
  },
  { name: 'activity', description: 'Your own login history and the audit entries about you.' },
  {
    name: 'consents',
    description:
      'Your acceptance of the terms and the privacy policy, and your marketing and data-sharing consents.',
  },
  {
    name: 'privacy',
    description:
      'GDPR: an export of all your data, and the erasure of your personal data (customers and compliance staff).',
  },
  { name: 'security', description: 'Staff: threat-intelligence indicators and the checks that use them.' },
  {
    name: 'configs',
    description: 'The app settings by key (terms, app versions, maintenance) and their management by staff.',
  },
  {
    name: 'compliance',
    description:
      'Staff: legal holds, retention, compliance reports (stored with a SHA-256 anyone can re-verify) and data-protection requests.',
  },
];

const documentDescription = [
  'Multi-tenant banking backend. Every error answers with the ErrorResponse shape and a code from one',
  'catalog; each operation lists the codes it can return in `x-error-codes` and in its response',
  'descriptions. Before routing, any request can also be answered `408 REQUEST_TIMEOUT`,',
  '`431 HEADERS_TOO_LARGE`, `413 PAYLOAD_TOO_LARGE`, `417 EXPECTATION_FAILED` or `400 BAD_REQUEST`.',
  'Amounts are integers in minor units.',
].join(' ');

/**
 * OpenAPI 3.1 at GET /openapi.json and interactive docs at /docs, unless DOCS_EXPOSURE=off (the
 * document is still built, for app.swagger()). Register before any module's routes.
 */
export async function registerOpenApi(app: FastifyInstance, config: Config): Promise<void> {
  app.addSchema(ErrorResponseSchema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Corebank API', version: '0.1.0', description: documentDescription },
      servers: [{ url: '/', description: 'The server that serves this document' }],
      tags: documentTags,
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
    transform: documentRoute,
    // Shared schemas keep their $id as their component name instead of `def-0`.
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, index) => String(json.$id ?? `def-${index}`),
    },
  });
  if (config.exposure.docs === 'off') return;
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
