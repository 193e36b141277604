import { Type } from '@sinclair/typebox';
import { IdParamsSchema } from '../../platform/schema-types.ts';
import { BackupCodeSchema, PasswordSchema, TotpCodeSchema } from '../identity/identity.schemas.ts';

/** The request and response schemas of the MFA routes (mfa.routes.ts). */
export const EnrolmentSchema = Type.Object(
  { secret: Type.String(), otpauth_uri: Type.String(), qr_code: Type.String() },
  {
    examples: [
      {
        secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
        otpauth_uri:
          'otpauth://totp/Corebank:alice%40example.com?issuer=Corebank&secret=JBSW…&algorithm=SHA1&digits=6&period=30',
        qr_code: 'data:image/png;base64,iVBORw0KGgo…',
      },
    ],
  },
);

export const ConfirmBodySchema = Type.Object(
  { code: TotpCodeSchema },
  { additionalProperties: false, examples: [{ code: '287082' }] },
);

export const BackupCodesSchema = Type.Object(
  { backup_codes: Type.Array(Type.String()) },
  { examples: [{ backup_codes: ['7KQ2-M9XD-4T', 'PZ8W-3HNC-QE'] }] },
);

export const ReauthenticationSchema = Type.Object(
  {
    password: PasswordSchema,
    totp: Type.Optional(TotpCodeSchema),
    backup_code: Type.Optional(BackupCodeSchema),
  },
  { additionalProperties: false, examples: [{ password: 'the account passphrase', totp: '287082' }] },
);

export const TrustedDevicesSchema = Type.Object(
  {
    devices: Type.Array(
      Type.Object({
        id: Type.String({ format: 'uuid' }),
        device_name: Type.Union([Type.String(), Type.Null()]),
        device_type: Type.Union([Type.String(), Type.Null()]),
        trust_score: Type.Number(),
        first_seen_at: Type.String({ format: 'date-time' }),
        last_seen_at: Type.String({ format: 'date-time' }),
        expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
      }),
    ),
  },
  {
    examples: [
      {
        devices: [
          {
            id: '0190a5c2-7d1e-7b3c-9f00-5a1f3c2b4d70',
            device_name: 'Firefox on Linux',
            device_type: 'web',
            trust_score: 51,
            first_seen_at: '2026-01-01T00:00:00.000Z',
            last_seen_at: '2026-01-02T00:00:00.000Z',
            expires_at: '2026-01-31T00:00:00.000Z',
          },
        ],
      },
    ],
  },
);

export const TrustedDeviceParamsSchema = IdParamsSchema('One of your trusted devices.');
