import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { IdParamsSchema } from '../../platform/schema-types.ts';
import { BackupCodeSchema, PasswordSchema, TotpCodeSchema } from '../identity/identity.schemas.ts';
import {
  confirmTotp,
  disableTotp,
  enrolTotp,
  forgetTrustedDevice,
  listTrustedDevices,
  renewBackupCodes,
} from './mfa.service.ts';

const EnrolmentSchema = Type.Object(
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

const ConfirmBodySchema = Type.Object(
  { code: TotpCodeSchema },
  { additionalProperties: false, examples: [{ code: '287082' }] },
);

const BackupCodesSchema = Type.Object(
  { backup_codes: Type.Array(Type.String()) },
  { examples: [{ backup_codes: ['7KQ2-M9XD-4T', 'PZ8W-3HNC-QE'] }] },
);

const ReauthenticationSchema = Type.Object(
  {
    password: PasswordSchema,
    totp: Type.Optional(TotpCodeSchema),
    backup_code: Type.Optional(BackupCodeSchema),
  },
  { additionalProperties: false, examples: [{ password: 'the account passphrase', totp: '287082' }] },
);

const TrustedDevicesSchema = Type.Object(
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

const TrustedDeviceParamsSchema = IdParamsSchema('One of your trusted devices.');

const secured = [{ bearerAuth: [] }];

export const mfaRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/me/mfa/totp/enroll',
    {
      config: { permission: 'mfa:manage_own' },
      schema: {
        tags: ['mfa'],
        summary: 'Start TOTP enrolment: the secret, its otpauth:// URI and a QR code image',
        security: secured,
        response: { 200: EnrolmentSchema, ...errorResponses('MFA_ALREADY_ENABLED') },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const enrolment = await enrolTotp(app, principal, auditContextFromRequest(request, principal.tenantId));
      return {
        secret: enrolment.secret,
        otpauth_uri: enrolment.otpauthUri,
        qr_code: enrolment.qrCodeDataUrl,
      };
    },
  );

  app.post(
    '/v1/me/mfa/totp/confirm',
    {
      config: { permission: 'mfa:manage_own' },
      schema: {
        tags: ['mfa'],
        summary: 'Confirm enrolment with a first code; MFA turns on and ten backup codes are returned once',
        security: secured,
        body: ConfirmBodySchema,
        response: {
          200: BackupCodesSchema,
          ...errorResponses('MFA_INVALID', 'MFA_ALREADY_ENABLED', 'MFA_NOT_ENABLED'),
        },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const codes = await confirmTotp(
        app,
        principal,
        auditContextFromRequest(request, principal.tenantId),
        request.body.code,
      );
      return { backup_codes: codes };
    },
  );

  app.post(
    '/v1/me/mfa/totp/disable',
    {
      config: { permission: 'mfa:manage_own' },
      schema: {
        tags: ['mfa'],
        summary: 'Turn MFA off after re-authentication (password and a code); not allowed for staff',
        security: secured,
        body: ReauthenticationSchema,
        response: {
          200: Type.Object({ mfa_enabled: Type.Boolean() }, { examples: [{ mfa_enabled: false }] }),
          ...errorResponses('INVALID_CREDENTIALS', 'MFA_INVALID', 'MFA_NOT_ENABLED', 'ACCOUNT_LOCKED'),
        },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      await disableTotp(app, principal, auditContextFromRequest(request, principal.tenantId), request.body);
      return { mfa_enabled: false };
    },
  );

  app.post(
    '/v1/me/mfa/backup-codes',
    {
      config: { permission: 'mfa:manage_own' },
      schema: {
        tags: ['mfa'],
        summary: 'Regenerate the ten backup codes after re-authentication; the old ones stop working',
        security: secured,
        body: ReauthenticationSchema,
        response: {
          200: BackupCodesSchema,
          ...errorResponses('INVALID_CREDENTIALS', 'MFA_INVALID', 'MFA_NOT_ENABLED', 'ACCOUNT_LOCKED'),
        },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const codes = await renewBackupCodes(
        app,
        principal,
        auditContextFromRequest(request, principal.tenantId),
        request.body,
      );
      return { backup_codes: codes };
    },
  );

  app.get(
    '/v1/me/trusted-devices',
    {
      config: { permission: 'mfa:manage_own' },
      schema: {
        tags: ['mfa'],
        summary: 'Devices that skip the second factor ("remember this device")',
        security: secured,
        response: { 200: TrustedDevicesSchema, ...errorResponses('UNAUTHENTICATED') },
      },
    },
    async (request) => ({ devices: await listTrustedDevices(app, requirePrincipal(request)) }),
  );

  app.delete(
    '/v1/me/trusted-devices/:id',
    {
      config: { permission: 'mfa:manage_own' },
      schema: {
        tags: ['mfa'],
        summary: 'Forget a trusted device; its next login needs the second factor again',
        security: secured,
        params: TrustedDeviceParamsSchema,
        response: { 204: Type.Null(), ...errorResponses('NOT_FOUND') },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      await forgetTrustedDevice(
        app,
        principal,
        auditContextFromRequest(request, principal.tenantId),
        request.params.id,
      );
      return reply.code(204).send(null);
    },
  );
};
