import { type StringOptions, Type } from '@sinclair/typebox';

/**
 * Request schema building blocks with their bounds built in, shared so every route gets the same
 * limits: test/http/openapi-document.test.ts fails any request field without them.
 */

/** The canonical 36-character form. validation.ts also narrows the `uuid` format to it (no `urn:uuid:`). */
export function UuidSchema(options: StringOptions = {}) {
  return Type.String({ format: 'uuid', minLength: 36, maxLength: 36, ...options });
}

/** `{ id }` path parameters of a route acting on one entity. */
export function IdParamsSchema(description?: string) {
  return Type.Object(
    { id: UuidSchema(description === undefined ? {} : { description }) },
    { additionalProperties: false },
  );
}

/** `2026-11-22T10:00:00.000Z`; the longest accepted form is `9999-12-31T23:59:59.123456789+14:59`. */
export const dateTimeLengthMax = 35;

/**
 * An RFC 3339 instant in years 0001-9999 with an offset of at most ±14:59, checked by the strict
 * `date-time` format of validation.ts (date-formats.ts): a value that passes casts to timestamptz.
 */
export function DateTimeSchema(options: StringOptions = {}) {
  return Type.String({
    format: 'date-time',
    maxLength: dateTimeLengthMax,
    examples: ['2026-11-22T10:00:00.000Z'],
    ...options,
  });
}

/** The largest page any list answers (CONVENTIONS: page limit ≤ 100). */
export const pageLimitMax = 100;

export function PageLimitSchema(defaultLimit: number) {
  return Type.Integer({
    minimum: 1,
    maximum: pageLimitMax,
    default: defaultLimit,
    description: `Page size, 1-${pageLimitMax}.`,
  });
}

/**
 * A free-form JSON number a client may store (profile metadata, KYC verification data). Bounded to the
 * exact integer range: a larger number would read back as a different one.
 */
export const JsonNumberSchema = Type.Number({
  minimum: -Number.MAX_SAFE_INTEGER,
  maximum: Number.MAX_SAFE_INTEGER,
});

/** A scalar value of a free-form map: a short string, an exact number, a boolean or null. */
export function JsonScalarSchema(stringLengthMax: number) {
  return Type.Union([
    Type.String({ maxLength: stringLengthMax }),
    JsonNumberSchema,
    Type.Boolean(),
    Type.Null(),
  ]);
}
