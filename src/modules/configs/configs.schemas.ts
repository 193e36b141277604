import { type Static, Type } from '@sinclair/typebox';

const keyPattern = '^[a-z0-9_.-]{1,128}$';

export const ConfigKeyParamsSchema = Type.Object(
  { key: Type.String({ pattern: keyPattern, maxLength: 128, description: 'The configuration key.' }) },
  { additionalProperties: false },
);

/** A document (tnc, privacy_policy) is at most 100,000 characters; the table allows 1,000,000. */
export const configValueLengthMax = 100_000;

export const SetConfigBodySchema = Type.Object(
  {
    value: Type.String({
      maxLength: configValueLengthMax,
      description: "The value in the key's type: true/false, a version MAJOR.MINOR.PATCH, or plain text.",
      examples: ['true'],
    }),
  },
  { additionalProperties: false },
);

const documentVersion = Type.Union([Type.String({ maxLength: 32 }), Type.Null()], {
  description:
    'The published version of a document key (TERMS_VERSION, PRIVACY_POLICY_VERSION); null otherwise.',
});

export const PublicConfigSchema = Type.Object(
  {
    key: Type.String({ maxLength: 128 }),
    value: Type.String({ maxLength: configValueLengthMax }),
    version: documentVersion,
  },
  { additionalProperties: false, examples: [{ key: 'app_version', value: '2.4.0', version: null }] },
);

export const ConfigSchema = Type.Object(
  {
    key: Type.String({ maxLength: 128 }),
    value: Type.Union([Type.String({ maxLength: configValueLengthMax }), Type.Null()], {
      description: 'Null when the key is not set (its default applies).',
    }),
    version: documentVersion,
    description: Type.String({ maxLength: 500 }),
    updated_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { additionalProperties: false },
);
export type ConfigView = Static<typeof ConfigSchema>;

export const ConfigListSchema = Type.Object(
  { configs: Type.Array(ConfigSchema, { maxItems: 100 }) },
  { additionalProperties: false },
);
