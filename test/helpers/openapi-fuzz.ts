import { randomUUID } from 'node:crypto';
import {
  bodyExample,
  type JsonSchema,
  type OpenApiDocument,
  type Operation,
  requestBodySchema,
  resolveSchema,
  schemaType,
} from './openapi.ts';

/**
 * Builds requests for an operation from its OpenAPI description alone: a plausible valid request (from
 * examples, defaults and bounds), and hostile variants of it that change one input at a time. Nothing
 * here knows a route by name, so an operation added later is walked the same way.
 */

/** A request as app.inject takes it; `payload` is raw text so invalid JSON and odd numbers survive. */
export interface WalkRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
  /** What the variant changed, for failure messages. */
  label: string;
}

export interface RequestParts {
  path: Record<string, string>;
  /** Raw, already percent-encoded query values (so an invalid UTF-8 sequence can be sent). */
  query: Record<string, string>;
  headers: Record<string, string>;
  /** JSON text of the body, or undefined for none. */
  body: string | undefined;
}

function firstExample(schema: JsonSchema): unknown {
  if (schema.examples && schema.examples.length > 0) return schema.examples[0];
  return schema.example;
}

/** A value the schema accepts, as far as examples, defaults and bounds allow. */
export function sampleValue(document: OpenApiDocument, raw: JsonSchema, depth = 0): unknown {
  const schema = resolveSchema(document, raw);
  const example = firstExample(schema);
  if (example !== undefined) return example;
  if (schema.default !== undefined) return schema.default;
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) {
    const chosen =
      alternatives.find((alternative) => schemaType(resolveSchema(document, alternative)) !== 'null') ??
      alternatives[0];
    return chosen ? sampleValue(document, chosen, depth + 1) : null;
  }
  switch (schemaType(schema)) {
    case 'string':
      return sampleString(schema);
    case 'integer':
    case 'number':
      return Math.max(schema.minimum ?? 1, Math.min(1, schema.maximum ?? 1));
    case 'boolean':
      return false;
    case 'array':
      return [];
    case 'object':
      return sampleObject(document, schema, depth);
    default:
      return null;
  }
}

function sampleString(schema: JsonSchema): string {
  if (schema.format === 'uuid') return randomUUID();
  if (schema.format === 'date-time') return '2026-01-01T00:00:00.000Z';
  if (schema.format === 'date') return '2026-01-01';
  if (schema.format === 'email') return 'walk@example.com';
  if (schema.format === 'uri') return 'https://example.com/a.png';
  return 'w'.repeat(Math.max(schema.minLength ?? 1, 8)).slice(0, schema.maxLength ?? 8);
}

function sampleObject(document: OpenApiDocument, schema: JsonSchema, depth: number): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  if (depth > 5) return value;
  for (const key of schema.required ?? []) {
    const property = schema.properties?.[key];
    if (property) value[key] = sampleValue(document, property, depth + 1);
  }
  return value;
}

/** Valid-looking parts for an operation; path ids default to random uuids (nothing that exists). */
export function sampleParts(document: OpenApiDocument, path: string, operation: Operation): RequestParts {
  const parts: RequestParts = { path: {}, query: {}, headers: {}, body: undefined };
  for (const parameter of operation.parameters ?? []) {
    const schema = resolveSchema(document, parameter.schema);
    const example = (parameter as { example?: unknown }).example;
    if (parameter.in === 'path') parts.path[parameter.name] = randomUUID();
    else if (parameter.in === 'query' && parameter.required)
      parts.query[parameter.name] = encodeURIComponent(String(example ?? sampleValue(document, schema)));
  }
  for (const name of path.matchAll(/\{([^}]+)\}/g)) parts.path[name[1] as string] ??= randomUUID();
  const body = requestBodySchema(document, operation);
  // @fastify/swagger moves a body schema's examples to the media type.
  const example = bodyExample(operation);
  if (body) parts.body = JSON.stringify(example ?? sampleValue(document, body));
  return parts;
}

export function buildRequest(method: string, path: string, parts: RequestParts, label: string): WalkRequest {
  const url = path.replace(/\{([^}]+)\}/g, (_match, name: string) => parts.path[name] ?? randomUUID());
  const query = Object.entries(parts.query)
    .map(([key, value]) => `${encodeURIComponent(key)}=${value}`)
    .join('&');
  const headers: Record<string, string> = { ...parts.headers };
  const request: WalkRequest = { method, url: query ? `${url}?${query}` : url, headers, label };
  if (parts.body !== undefined) {
    request.payload = parts.body;
    headers['content-type'] ??= 'application/json';
  }
  return request;
}

/** Text no PostgreSQL text column can hold: NUL, and unpaired or reversed UTF-16 surrogates. */
export const illFormedTexts = ['\u0000', 'a\u0000b', '\ud800', '\udfff', 'x\udc00\ud800y'];

/** The same, as a query string carries them (a lone surrogate has no UTF-8 form: send CESU-8 bytes). */
export const illFormedQueryTexts = ['%00', 'a%00b', '%ED%A0%80', '%ED%BF%BF', '%F0%9F', '%C0%80'];

export const impossibleDateTimes = [
  '0000-01-01T00:00:00Z',
  '2026-99-01T00:00:00Z',
  '2026-02-30T00:00:00Z',
  '2025-02-29T00:00:00Z',
  '10000-01-01T00:00:00Z',
  '2026-01-01T00:00:00+23:59',
  '2026-01-01T00:00:00+16:00',
  '9999-12-31T23:59:59-14:00',
  '0001-01-01T00:00:00+01:00',
  '2026-12-31T23:59:60Z',
  '2026-01-01 00:00:00Z',
  '2026-01-01T24:00:00Z',
  '-001-01-01T00:00:00Z',
];

/** Numbers as JSON text: beyond the exact range, negative, fractional, infinite after parsing. */
export const hostileJsonNumbers = [
  '1e400',
  '-1e400',
  '9007199254740993',
  '-9007199254740993',
  '-1',
  '-0',
  '1.5',
  '0',
];

/** Numbers as query text: what Ajv's coercion turns into something unexpected. */
export const hostileQueryNumbers = [
  '1e400',
  '9007199254740993',
  '99999999999999999999',
  '-0',
  '-1',
  '%201',
  '0x10',
  '1.5',
  'NaN',
  'Infinity',
  '',
];

/** Hostile JSON texts for a value of this schema (one field of a body). */
export function hostileJsonValues(document: OpenApiDocument, raw: JsonSchema): string[] {
  const schema = resolveSchema(document, raw);
  const type = schemaType(schema);
  const values = ['null', '{}', '[]', 'true', '"text"', '12'];
  values.push(...illFormedTexts.map((text) => JSON.stringify(text)));
  if (type === 'string' || type === undefined) {
    values.push(JSON.stringify('x'.repeat((schema.maxLength ?? 1000) + 1)), '""');
    if (schema.format === 'date-time' || schema.format === 'date')
      values.push(...impossibleDateTimes.map((text) => JSON.stringify(text)));
    if (schema.format === 'uuid')
      values.push(JSON.stringify(`urn:uuid:${randomUUID()}`), '"not-a-uuid"', JSON.stringify(randomUUID()));
  }
  if (type === 'integer' || type === 'number') values.push(...hostileJsonNumbers);
  if (type === 'array')
    values.push(JSON.stringify(Array.from({ length: (schema.maxItems ?? 100) + 1 }, () => 1)));
  return values;
}

/** Hostile query texts for a query parameter of this schema. */
export function hostileQueryValues(document: OpenApiDocument, raw: JsonSchema): string[] {
  const schema = resolveSchema(document, raw);
  const type = schemaType(schema);
  const values = [...illFormedQueryTexts, 'x'.repeat((schema.maxLength ?? 1000) + 1)];
  if (type === 'integer' || type === 'number') values.push(...hostileQueryNumbers);
  if (type === 'boolean') values.push('yes', '2', '');
  if (schema.format === 'date-time' || schema.format === 'date')
    values.push(...impossibleDateTimes.map((text) => encodeURIComponent(text)));
  return values;
}

/** Hostile query texts for a named query parameter: its schema's, and hostile cursors for `cursor`. */
export function hostileQueryParameterValues(
  document: OpenApiDocument,
  name: string,
  raw: JsonSchema,
): string[] {
  const values = hostileQueryValues(document, raw);
  if (name === 'cursor') values.push(...hostileCursors());
  return values;
}

/**
 * Cursors no list issued (issue 7 follow-up: an impossible date inside a well-formed cursor reached a
 * PostgreSQL cast and answered 500). Each must be 400 on every list, whatever kind of cursor it takes:
 * impossible instants, a wrong id, missing, extra or wrongly typed parts, bytes that are not UTF-8 or
 * that PostgreSQL cannot hold, non-canonical and garbage base64url, and texts over the length bound.
 */
function base64url(text: string | Buffer): string {
  return (typeof text === 'string' ? Buffer.from(text, 'utf8') : text).toString('base64url');
}

export function hostileCursors(): string[] {
  const id = randomUUID();
  const time = '2026-01-01T00:00:00.000000Z';
  const impossibleTimes = [
    '2026-02-30T25:61:00.000000Z',
    '2026-13-01T00:00:00.000000Z',
    '2026-00-10T00:00:00.000000Z',
    '0000-01-01T00:00:00.000000Z',
    '9999-12-31T23:59:60.000000Z',
    '2026-01-01T24:00:00.000000Z',
    '99999-01-01T00:00:00.000000Z',
    '+275760-09-13T00:00:00.000000Z',
    '2026-01-01T00:00:00Z',
    '2026-01-01T00:00:00.000000+23:59',
    '2026-01-01 00:00:00.000000Z',
  ];
  const decoded = [
    ...impossibleTimes.map((value) => `${value}|${id}`),
    `${time}|not-a-uuid`,
    `${time}|${id.toUpperCase()}`,
    `${time}|${id}0`,
    `${time}|urn:uuid:${id}`,
    `${time}|${id}|extra`,
    `${id}|${id}`,
    `${time}|`,
    `|${id}`,
    '|',
    time,
    `${id}|extra`,
    `${id.slice(0, 35)}g`,
    JSON.stringify({ id, created_at: time }),
    JSON.stringify([time, id]),
    '12345',
    'null',
    'true',
    `${time}\u0000|${id}`,
    `${time}|${id}\u0000`,
  ];
  const bytes = [
    Buffer.from([0]),
    Buffer.concat([Buffer.from(`${time}|`), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(id.slice(3))]),
    Buffer.concat([Buffer.from(id), Buffer.from([0xff, 0xfe])]),
    Buffer.concat([Buffer.from(id), Buffer.from([0xc0, 0x80])]),
  ];
  const garbage = [
    '%00',
    'a%00b',
    '%ED%A0%80',
    '%F0%9F',
    '!!!!',
    '%3D%3D%3D%3D',
    'a',
    `${base64url(`${time}|${id}`)}%3D`,
    `${base64url(id)}A`,
    `${base64url(id).slice(0, -1)}${base64url(id).endsWith('A') ? 'B' : 'A'}`,
    encodeURIComponent(Buffer.from(`${time}|${id}`).toString('base64')),
    base64url('x'.repeat(200)),
    'A'.repeat(101),
    'A'.repeat(5000),
  ];
  return [...decoded.map((text) => base64url(text)), ...bytes.map(base64url), ...garbage];
}

export const hostilePathValues = [
  'not-a-uuid',
  '%00',
  '%ED%A0%80',
  `urn%3Auuid%3A${randomUUID()}`,
  '1e400',
  '-1',
];

/** Hostile values for a header (inject passes them through as given). */
export const hostileHeaderValues = [...illFormedTexts, 'x'.repeat(300), 'not-a-uuid', randomUUID()];

/** Whole-body variants: no body, not an object, not JSON, wrong media type, deep nesting, a bad key. */
export function hostileBodies(
  sample: string | undefined,
): { payload: string | undefined; contentType: string }[] {
  const object = sample?.startsWith('{') ? (JSON.parse(sample) as Record<string, unknown>) : {};
  const json = 'application/json';
  return [
    { payload: undefined, contentType: json },
    { payload: '', contentType: json },
    { payload: 'null', contentType: json },
    { payload: '[]', contentType: json },
    { payload: '"text"', contentType: json },
    { payload: '{', contentType: json },
    { payload: '{}', contentType: json },
    { payload: JSON.stringify({ ...object, unknown_walk_field: 1 }), contentType: json },
    { payload: JSON.stringify({ ...object, 'bad\u0000key': 1 }), contentType: json },
    { payload: JSON.stringify({ ...object, '\ud800': 1 }), contentType: json },
    { payload: `${'['.repeat(5000)}${']'.repeat(5000)}`, contentType: json },
    { payload: sample ?? '{}', contentType: 'text/plain' },
  ];
}
