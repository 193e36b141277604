import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponse } from '../../platform/openapi.ts';
import { LivenessSchema, ReadinessSchema } from './health.schemas.ts';
import { checkReadiness } from './health.service.ts';

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/health',
    {
      config: { permission: 'public' },
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process is up (does not touch the database)',
        response: { 200: LivenessSchema },
      },
    },
    async () => ({ status: 'ok' as const, uptime_seconds: Math.floor(process.uptime()) }),
  );

  app.get(
    '/ready',
    {
      config: { permission: 'public' },
      schema: {
        tags: ['health'],
        summary: 'Readiness: the database answers and every migration is applied',
        response: { 200: ReadinessSchema, 503: errorResponse },
      },
    },
    async (request) => checkReadiness(app.database, request.log),
  );
};
