import type { AppInstance } from '../../src/app.ts';

/**
 * The parts of an OpenAPI 3.1 document the document tests and the fuzz walk read. Schemas are plain
 * JSON Schema objects; `$ref`s point into components.schemas.
 */
export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  patternProperties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  default?: unknown;
  example?: unknown;
  examples?: unknown[];
  description?: string;
}

export interface Parameter {
  in: 'path' | 'query' | 'header' | 'cookie';
  name: string;
  required?: boolean;
  description?: string;
  schema: JsonSchema;
}

export interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: {
    required?: boolean;
    content: Record<
      string,
      { schema: JsonSchema; example?: unknown; examples?: Record<string, { value: unknown }> }
    >;
  };
  responses: Record<string, { description: string; content?: Record<string, { schema: JsonSchema }> }>;
  'x-error-codes'?: string[];
}

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  servers?: { url: string; description?: string }[];
  tags?: { name: string; description?: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonSchema> };
}

export interface DocumentedOperation {
  method: string;
  path: string;
  operation: Operation;
}

export async function readOpenApiDocument(app: AppInstance): Promise<OpenApiDocument> {
  const response = await app.inject({ method: 'GET', url: '/openapi.json' });
  if (response.statusCode !== 200) throw new Error(`/openapi.json answered ${response.statusCode}`);
  return response.json() as OpenApiDocument;
}

const httpMethods = new Set(['get', 'put', 'post', 'delete', 'patch', 'options', 'head']);

/** Every operation of the document, in document order. */
export function documentedOperations(document: OpenApiDocument): DocumentedOperation[] {
  return Object.entries(document.paths).flatMap(([path, operations]) =>
    Object.entries(operations)
      .filter(([method]) => httpMethods.has(method))
      .map(([method, operation]) => ({ method: method.toUpperCase(), path, operation })),
  );
}

/** Follows `#/components/schemas/Name` references until a schema that is not a reference. */
export function resolveSchema(document: OpenApiDocument, schema: JsonSchema): JsonSchema {
  let current = schema;
  for (let hops = 0; current.$ref !== undefined; hops += 1) {
    if (hops > 10) throw new Error(`reference loop at ${current.$ref}`);
    const name = current.$ref.replace('#/components/schemas/', '');
    const target = document.components.schemas[name];
    if (!target) throw new Error(`unresolved reference ${current.$ref}`);
    current = target;
  }
  return current;
}

export function requestBodySchema(document: OpenApiDocument, operation: Operation): JsonSchema | undefined {
  const schema = operation.requestBody?.content['application/json']?.schema;
  return schema ? resolveSchema(document, schema) : undefined;
}

/** A schema's own type, when it names exactly one besides null. */
export function schemaType(schema: JsonSchema): string | undefined {
  if (typeof schema.type === 'string') return schema.type;
  if (Array.isArray(schema.type)) return schema.type.find((type) => type !== 'null');
  if (schema.const !== undefined) return typeof schema.const;
  return undefined;
}

export interface SchemaVisit {
  schema: JsonSchema;
  /** Dotted path: `body.device.name`, `querystring.limit`, `body.items.[]`. */
  path: string;
  /** The property name the schema sits under, if any. */
  name: string | undefined;
}

/** Every schema reachable from `root` (properties, items, alternatives), references resolved. */
export function visitSchemas(
  document: OpenApiDocument,
  root: JsonSchema,
  rootPath: string,
  rootName?: string,
): SchemaVisit[] {
  const visits: SchemaVisit[] = [];
  const pending: SchemaVisit[] = [{ schema: root, path: rootPath, name: rootName }];
  while (pending.length > 0) {
    const visit = pending.shift() as SchemaVisit;
    const schema = resolveSchema(document, visit.schema);
    visits.push({ ...visit, schema });
    for (const [name, property] of Object.entries(schema.properties ?? {}))
      pending.push({ schema: property, path: `${visit.path}.${name}`, name });
    for (const property of Object.values(schema.patternProperties ?? {}))
      pending.push({ schema: property, path: `${visit.path}.*`, name: visit.name });
    if (typeof schema.additionalProperties === 'object')
      pending.push({ schema: schema.additionalProperties, path: `${visit.path}.*`, name: visit.name });
    if (schema.items) pending.push({ schema: schema.items, path: `${visit.path}.[]`, name: visit.name });
    for (const alternative of [...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])])
      pending.push({ schema: alternative, path: visit.path, name: visit.name });
  }
  return visits;
}

/** The request-side schemas of an operation: each parameter, and the body. */
export function requestSchemas(document: OpenApiDocument, operation: Operation): SchemaVisit[] {
  const partOf = { path: 'params', query: 'querystring', header: 'headers', cookie: 'cookies' } as const;
  const visits: SchemaVisit[] = [];
  for (const parameter of operation.parameters ?? [])
    visits.push(
      ...visitSchemas(
        document,
        parameter.schema,
        `${partOf[parameter.in]}.${parameter.name}`,
        parameter.name,
      ),
    );
  const body = requestBodySchema(document, operation);
  if (body) visits.push(...visitSchemas(document, body, 'body'));
  return visits;
}

/** The body example of an operation: @fastify/swagger writes one as `example`, several as `examples`. */
export function bodyExample(operation: Operation): unknown {
  const media = operation.requestBody?.content['application/json'];
  if (media?.example !== undefined) return media.example;
  return Object.values(media?.examples ?? {})[0]?.value;
}
