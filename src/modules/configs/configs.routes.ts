import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AppInstance } from '../../app.ts';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { resolveTenantId } from '../../platform/tenant-resolver.ts';
import {
  ConfigKeyParamsSchema,
  ConfigListSchema,
  ConfigSchema,
  configValueLengthMax,
  PublicConfigSchema,
  SetConfigBodySchema,
} from './configs.schemas.ts';
import { type ConfigServices, listConfigs, readConfig, setConfig, unsetConfig } from './configs.service.ts';

const secured = [{ bearerAuth: [] }];
const adminTags = ['configs', 'admin'];
const staffConfig = { permission: 'config:manage' } as const;

/** Configs (seed 000): the app reads a value by key; staff set and unset them, each change audited. */
export function configsRoutes(services: ConfigServices): FastifyPluginAsyncTypebox {
  return async (app) => {
    registerPublicRead(app, services);
    registerStaffRoutes(app, services);
  };
}

function registerPublicRead(app: AppInstance, services: ConfigServices): void {
  app.get(
    '/v1/configs/:key',
    {
      config: { permission: 'public', tenantHeader: true },
      schema: {
        tags: ['configs'],
        summary: 'One setting by key: tnc, privacy_policy, app_version, min_app_version, maintenance_mode',
        params: ConfigKeyParamsSchema,
        response: { 200: PublicConfigSchema, ...errorResponses('NOT_FOUND') },
      },
    },
    async (request) => readConfig(services, await resolveTenantId(app, request), request.params.key),
  );
}

function registerStaffRoutes(app: AppInstance, services: ConfigServices): void {
  app.get(
    '/v1/admin/configs',
    {
      config: staffConfig,
      schema: {
        tags: adminTags,
        summary: 'Staff: every configuration key, set or not, with its description',
        security: secured,
        response: { 200: ConfigListSchema },
      },
    },
    async (request) => listConfigs(services, requirePrincipal(request).tenantId),
  );
  app.put(
    '/v1/admin/configs/:key',
    {
      config: staffConfig,
      // A document of configValueLengthMax characters, each up to 4 bytes in UTF-8 or 6 escaped in JSON.
      bodyLimit: configValueLengthMax * 6 + 1024,
      schema: {
        tags: adminTags,
        summary: "Staff: set a configuration value in its key's type (audited with the old value)",
        security: secured,
        params: ConfigKeyParamsSchema,
        body: SetConfigBodySchema,
        response: { 200: ConfigSchema, ...errorResponses('NOT_FOUND') },
      },
    },
    async (request) => {
      const audit = auditContextFromRequest(request, requirePrincipal(request).tenantId);
      return setConfig(services, audit, request.params.key, request.body.value);
    },
  );
  app.delete(
    '/v1/admin/configs/:key',
    {
      config: staffConfig,
      schema: {
        tags: adminTags,
        summary: 'Staff: unset a configuration key (its default applies)',
        security: secured,
        params: ConfigKeyParamsSchema,
        response: { 204: Type.Null(), ...errorResponses('NOT_FOUND') },
      },
    },
    async (request, reply) => {
      const audit = auditContextFromRequest(request, requirePrincipal(request).tenantId);
      await unsetConfig(services, audit, request.params.key);
      return reply.code(204).send(null);
    },
  );
}
