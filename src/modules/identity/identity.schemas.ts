import { type Static, Type } from '@sinclair/typebox';
import { ConsentStatusProperties } from '../consents/consents.schemas.ts';

export const PhoneSchema = Type.String({
  pattern: '^\\+?[0-9]{8,15}$',
  maxLength: 16,
  examples: ['081234567801'],
});
export const AccountNumberSchema = Type.String({
  pattern: '^[0-9]{8,20}$',
  maxLength: 20,
  examples: ['1234567801'],
});
export const PinSchema = Type.String({
  pattern: '^[0-9]{6}$',
  minLength: 6,
  maxLength: 6,
  // The development seed's PIN (src/db/seed/seed-people.ts), so the example logs in against it.
  examples: ['123456'],
});
export const OtpSchema = Type.String({
  pattern: '^[0-9]{6}$',
  minLength: 6,
  maxLength: 6,
  examples: ['493817'],
});
export const EmailSchema = Type.String({
  format: 'email',
  minLength: 3,
  maxLength: 255,
  examples: ['alice@example.com'],
});
/** Bounded above as well: argon2 of a megabyte-long "password" is a cheap denial of service. */
export const PasswordSchema = Type.String({
  minLength: 1,
  maxLength: 256,
  examples: ['correct horse battery staple'],
});
export const TotpCodeSchema = Type.String({
  pattern: '^[0-9]{6}$',
  minLength: 6,
  maxLength: 6,
  examples: ['287082'],
});
export const BackupCodeSchema = Type.String({
  pattern: '^[A-Za-z0-9-]{8,20}$',
  maxLength: 20,
  examples: ['7KQ2-M9XD-4TPA'],
});

/** The client's own identifier of the device (an Android ID, an iOS identifierForVendor): printable ASCII. */
export const DeviceIdSchema = Type.String({
  minLength: 1,
  maxLength: 255,
  pattern: '^[\\x21-\\x7e]+$',
  examples: ['device-7f3a'],
});

export const BankingDeviceSchema = Type.Object(
  {
    type: Type.Union([
      Type.Literal('android'),
      Type.Literal('ios'),
      Type.Literal('web'),
      Type.Literal('desktop'),
    ]),
    id: DeviceIdSchema,
    name: Type.String({ minLength: 1, maxLength: 255 }),
  },
  { additionalProperties: false },
);
export type BankingDevice = Static<typeof BankingDeviceSchema>;

export const OptionalDeviceSchema = Type.Object(
  {
    type: Type.Union([
      Type.Literal('android'),
      Type.Literal('ios'),
      Type.Literal('web'),
      Type.Literal('desktop'),
    ]),
    id: Type.Optional(DeviceIdSchema),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  },
  { additionalProperties: false },
);

export const BankingLoginBodySchema = Type.Object(
  {
    name: Type.String({ minLength: 8, maxLength: 255 }),
    phone: PhoneSchema,
    account_number: AccountNumberSchema,
    mother_name: Type.String({ minLength: 8, maxLength: 255 }),
    pin: PinSchema,
    device: BankingDeviceSchema,
  },
  {
    additionalProperties: false,
    examples: [
      {
        name: 'Alice Wijaya',
        phone: '081234567801',
        account_number: '1234567801',
        mother_name: 'Mother Of Demo',
        pin: '123456',
        device: { type: 'android', id: 'device-7f3a', name: 'Pixel 8' },
      },
    ],
  },
);
export type BankingLoginBody = Static<typeof BankingLoginBodySchema>;

export const LoginTokenResponseSchema = Type.Object(
  { login_token: Type.String(), expires_in: Type.Integer() },
  { examples: [{ login_token: 'lt_Q2x2v…', expires_in: 300 }] },
);

export const BankingVerifyBodySchema = Type.Object(
  { login_token: Type.String({ minLength: 10, maxLength: 200 }), otp: OtpSchema },
  { additionalProperties: false, examples: [{ login_token: 'lt_Q2x2v…', otp: '493817' }] },
);
export type BankingVerifyBody = Static<typeof BankingVerifyBodySchema>;

export const UserSummarySchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  phone: Type.Union([Type.String(), Type.Null()]),
  email: Type.Union([Type.String(), Type.Null()]),
  role: Type.String(),
  status: Type.Integer(),
  kyc_tier: Type.Integer(),
  mfa_enabled: Type.Boolean(),
});
export type UserSummary = Static<typeof UserSummarySchema>;

const exampleUser = {
  id: '0190a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e',
  name: 'Alice Wijaya',
  phone: '081234567801',
  email: null,
  role: 'customer',
  status: 1,
  kyc_tier: 0,
  mfa_enabled: false,
};

export const TokenPairResponseSchema = Type.Object(
  {
    access_token: Type.String(),
    refresh_token: Type.String(),
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Integer(),
    session_id: Type.String({ format: 'uuid' }),
    user: UserSummarySchema,
    trusted_device_token: Type.Optional(Type.String()),
    // A customer login only (staff accept no customer documents): the terms or privacy policy version
    // they still have to accept (POST /v1/me/consents). The session works meanwhile; the app asks.
    consent_required: Type.Optional(ConsentStatusProperties.consent_required),
    required_documents: Type.Optional(ConsentStatusProperties.required_documents),
  },
  {
    examples: [
      {
        access_token: 'eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0…',
        refresh_token: 'rt_3q2-…',
        token_type: 'Bearer',
        expires_in: 900,
        session_id: '0190a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6f',
        user: exampleUser,
        consent_required: true,
        required_documents: [{ purpose: 'terms', version: '1' }],
      },
    ],
  },
);

export const MessageResponseSchema = Type.Object(
  { message: Type.String() },
  { examples: [{ message: 'If the account exists, a message has been sent.' }] },
);

interface UserRowForSummary {
  id: string;
  name: string;
  phone: string | null;
  email: string | null;
  role: string;
  status: number;
  kyc_tier: number;
  mfa_enabled: boolean;
}

export function userSummary(row: UserRowForSummary): UserSummary {
  return {
    id: row.id,
    name: row.name,
    phone: row.phone,
    email: row.email,
    role: row.role,
    status: row.status,
    kyc_tier: row.kyc_tier,
    mfa_enabled: row.mfa_enabled,
  };
}
