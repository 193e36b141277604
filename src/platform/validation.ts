import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchema, FastifySchemaCompiler, FastifyServerOptions } from 'fastify';

/**
 * Request validation with two Ajv instances. Bodies are JSON and must already have the right types:
 * "100" for an integer is a client bug to report, not to repair, and an unknown field is rejected
 * rather than silently dropped. Querystring, params and headers arrive as text, so they are coerced.
 */
const sharedOptions: Options = {
  // One error per request: collecting every error lets a crafted body make validation expensive.
  allErrors: false,
  useDefaults: true,
  // Schemas are compiled once per route; caching them by $id would reject a second route reusing one.
  addUsedSchema: false,
  // Unknown keywords (a misspelt `maxLenght`) fail at startup; type-strictness warnings are noise.
  strict: true,
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
  // `example` is OpenAPI 3.0 documentation; accept it so a route schema may carry it.
  keywords: ['example'],
};

type SchemaMap = Record<string, unknown>;

// ajv-formats is CommonJS: under NodeNext its default import is the module object, whose `default` is the plugin.
const addFormatsPlugin = (addFormats as unknown as { default: typeof addFormats.default }).default;

function createAjv(options: Options, externalSchemas: SchemaMap): Ajv {
  const ajv = new Ajv({ ...sharedOptions, ...options });
  addFormatsPlugin(ajv);
  for (const schema of Object.values(externalSchemas)) ajv.addSchema(schema as object);
  return ajv;
}

/**
 * Fastify calls this once per encapsulation context with the schemas added there (`addSchema`), so a
 * route schema can `$ref` a shared one; `setValidatorCompiler` would not see those schemas.
 */
export function buildRequestValidator(externalSchemas: SchemaMap): FastifySchemaCompiler<FastifySchema> {
  const bodyAjv = createAjv({ coerceTypes: false, removeAdditional: false }, externalSchemas);
  const textAjv = createAjv({ coerceTypes: 'array', removeAdditional: true }, externalSchemas);
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? bodyAjv : textAjv;
    const id = (schema as { $id?: unknown }).$id;
    const stored = typeof id === 'string' ? ajv.getSchema(id) : undefined;
    return stored ?? ajv.compile(schema);
  };
}

type ValidatorBuilder = NonNullable<
  NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator']
>;

/**
 * buildRequestValidator typed for `schemaController.compilersFactory.buildValidator`. The cast is needed
 * because @fastify/ajv-compiler types the returned compiler as Ajv's `compile(schema)`, while Fastify
 * calls it with `{ schema, httpPart, ... }` as FastifySchemaCompiler describes.
 */
export const requestValidatorBuilder = buildRequestValidator as unknown as ValidatorBuilder;
