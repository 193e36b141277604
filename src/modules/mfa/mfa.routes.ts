import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import {
  BackupCodesSchema,
  ConfirmBodySchema,
  EnrolmentSchema,
  ReauthenticationSchema,
  TrustedDeviceParamsSchema,
  TrustedDevicesSchema,
} from './mfa.schemas.ts';
import {
  confirmTotp,
  disableTotp,
  enrolTotp,
  forgetTrustedDevice,
  listTrustedDevices,
  renewBackupCodes,
} from './mfa.service.ts';

const secured = [{ bearerAuth: [] }];

type App = Parameters<FastifyPluginAsyncTypebox>[0];

function registerEnrol(app: App): void {
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
}

function registerConfirm(app: App): void {
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
}

function registerDisable(app: App): void {
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
}

function registerRenewBackupCodes(app: App): void {
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
}

function registerListTrustedDevices(app: App): void {
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
}

function registerForgetTrustedDevice(app: App): void {
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
}

export const mfaRoutes: FastifyPluginAsyncTypebox = async (app) => {
  registerEnrol(app);
  registerConfirm(app);
  registerDisable(app);
  registerRenewBackupCodes(app);
  registerListTrustedDevices(app);
  registerForgetTrustedDevice(app);
};
