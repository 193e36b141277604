import { Type } from '@sinclair/typebox';
import { JsonScalarSchema } from '../../platform/schema-types.ts';

export const ProfileSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    tenant_id: Type.String({ format: 'uuid' }),
    role: Type.String(),
    name: Type.String(),
    email: Type.Union([Type.String(), Type.Null()]),
    phone: Type.Union([Type.String(), Type.Null()]),
    avatar: Type.Union([Type.String(), Type.Null()]),
    status: Type.Integer(),
    kyc_tier: Type.Integer(),
    is_verified: Type.Boolean(),
    mfa_enabled: Type.Boolean(),
    permissions: Type.Array(Type.String()),
    tags: Type.Array(Type.String()),
    metadata: Type.Record(Type.String(), Type.Unknown()),
    last_login_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
  },
  {
    examples: [
      {
        id: '0190a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e',
        tenant_id: '0190a5c2-0000-7b3c-9f00-5a1f3c2b4d6e',
        role: 'customer',
        name: 'Alice Wijaya',
        email: null,
        phone: '081234567801',
        avatar: null,
        status: 1,
        kyc_tier: 0,
        is_verified: true,
        mfa_enabled: false,
        permissions: ['profile:read', 'profile:update'],
        tags: ['customer'],
        metadata: { locale: 'id-ID' },
        last_login_at: '2026-01-01T00:00:00.000Z',
        created_at: '2026-01-01T00:00:00.000Z',
      },
    ],
  },
);

/** A metadata value: a scalar, or a list or map of scalars; bounded so the profile stays small. */
const MetadataValueSchema = Type.Union([
  JsonScalarSchema(500),
  Type.Array(JsonScalarSchema(500), { maxItems: 50 }),
  Type.Record(Type.String(), JsonScalarSchema(500), { maxProperties: 50, propertyNames: { maxLength: 64 } }),
]);

/** Only these four fields; anything else (balance, role, status, tenant_id, permissions, kyc_tier…) is a 400. */
export const ProfileUpdateSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    avatar: Type.Optional(Type.Union([Type.String({ format: 'uri', maxLength: 500 }), Type.Null()])),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 50 }), { maxItems: 50 })),
    metadata: Type.Optional(
      Type.Record(Type.String(), MetadataValueSchema, {
        maxProperties: 50,
        propertyNames: { maxLength: 64 },
        description: 'Free-form: values are scalars, or lists or maps of scalars, one level deep.',
      }),
    ),
  },
  {
    additionalProperties: false,
    minProperties: 1,
    examples: [{ name: 'Alice W.', tags: ['premium'], metadata: { locale: 'en-GB' } }],
  },
);

/** Metadata is free-form but small: its JSON text is bounded so a profile cannot become a file store. */
export const metadataBytesMax = 8192;
