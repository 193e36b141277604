import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifySchema, FastifySchemaCompiler, FastifyServerOptions } from 'fastify';
import { isStrictDate, isStrictDateTime } from './date-formats.ts';
import { AppError } from './errors.ts';
import { findIllFormedText } from './text-input.ts';

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
  // NaN and ±Infinity are not numbers a request can mean: a query value "1e400" coerces to Infinity,
  // which the default `integer` check accepts (Infinity % 1 is NaN, and !NaN is true).
  strictNumbers: true,
  // `example` is OpenAPI 3.0 documentation; accept it so a route schema may carry it.
  keywords: ['example'],
};

type SchemaMap = Record<string, unknown>;

const canonicalUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ajv-formats is CommonJS: under NodeNext its default import is the module object, whose `default` is the plugin.
const addFormatsPlugin = (addFormats as unknown as { default: typeof addFormats.default }).default;

function createAjv(options: Options, externalSchemas: SchemaMap): Ajv {
  const ajv = new Ajv({ ...sharedOptions, ...options });
  addFormatsPlugin(ajv);
  // Replace ajv-formats' lenient date formats (year 0000, ±23:59 offsets, leap seconds): every schema
  // with these formats, present or future, gets the strict check without doing anything.
  ajv.addFormat('date', { type: 'string', validate: isStrictDate });
  ajv.addFormat('date-time', { type: 'string', validate: isStrictDateTime });
  // ajv-formats also accepts `urn:uuid:…`, which PostgreSQL's uuid type rejects.
  ajv.addFormat('uuid', { type: 'string', validate: canonicalUuid });
  for (const schema of Object.values(externalSchemas)) ajv.addSchema(schema as object);
  return ajv;
}

/**
 * Ajv coerces query text with JavaScript's Number(): "1e400" becomes Infinity (which then skips every
 * numeric keyword under strictNumbers), "0x10" 16, " 1" 1. Text for a number must instead be plain
 * decimal digits, checked before Ajv sees it, so bounds always apply to what the client wrote.
 */
const integerText = /^-?(?:0|[1-9][0-9]{0,15})$/;
const numberText = /^-?(?:0|[1-9][0-9]{0,15})(?:\.[0-9]{1,15})?$/;

type NumericKind = 'integer' | 'number';

function numericProperties(schema: unknown): Map<string, NumericKind> {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {};
  const numeric = new Map<string, NumericKind>();
  for (const [name, property] of Object.entries(properties)) {
    if (property.type === 'integer' || property.type === 'number') numeric.set(name, property.type);
  }
  return numeric;
}

function badNumericText(data: unknown, numeric: Map<string, NumericKind>): ErrorObject | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  for (const [name, kind] of numeric) {
    const raw = (data as Record<string, unknown>)[name];
    const texts = Array.isArray(raw) ? raw : [raw];
    for (const text of texts) {
      if (typeof text !== 'string' || (kind === 'integer' ? integerText : numberText).test(text)) continue;
      return {
        instancePath: `/${name}`,
        schemaPath: `#/properties/${name}/type`,
        keyword: 'type',
        params: { type: kind },
        message: `must be ${kind === 'integer' ? 'a whole number' : 'a number'} written in decimal digits`,
      };
    }
  }
  return undefined;
}

/** The text-part validator with the strict number-text check in front of Ajv's coercion. */
function withStrictNumberText(validate: ValidateFunction, schema: unknown): ValidateFunction {
  const numeric = numericProperties(schema);
  if (numeric.size === 0) return validate;
  const checked = ((data: unknown) => {
    const error = badNumericText(data, numeric);
    if (error) {
      checked.errors = [error];
      return false;
    }
    const valid = validate(data);
    checked.errors = validate.errors;
    return valid;
  }) as ValidateFunction;
  return checked;
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
    const validate = stored ?? ajv.compile(schema);
    return httpPart === 'body' ? validate : withStrictNumberText(validate, schema);
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

type RequestPart = 'headers' | 'querystring' | 'params' | 'body';

function rejectIllFormed(parts: [RequestPart, unknown][]): void {
  for (const [part, value] of parts) {
    const detail = findIllFormedText(value, part);
    if (detail) throw new AppError('VALIDATION_FAILED', undefined, [detail]);
  }
}

/**
 * Rejects a NUL or an unpaired surrogate in any string of any request (every header, query value, path
 * parameter, body value and body key, at any depth) with 400 VALIDATION_FAILED naming the field, before
 * any handler or guard can pass it to PostgreSQL. It is a hook, not a schema keyword, so it covers
 * fields no schema names (a header the audit trail stores, a route without a body schema) and every
 * route added later without its author doing anything. Headers are refused, not sanitised: Node's
 * parser already refuses these characters on a real socket, so only a forged request carries them.
 * Register on the root instance before the authentication guard.
 */
export function registerInputBoundary(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    rejectIllFormed([
      ['headers', request.headers],
      ['querystring', request.query],
      ['params', request.params],
    ]);
  });
  app.addHook('preValidation', async (request) => {
    rejectIllFormed([['body', request.body]]);
  });
}
