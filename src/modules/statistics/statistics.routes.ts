import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { StatisticsQuerySchema, StatisticsSchema, SupplySchema } from './statistics.schemas.ts';
import { readStatistics, readTotalSupply } from './statistics.service.ts';

/** Staff statistics over the ledger and the operations (seed 002 get_statistics, get_total_supply). */
export const statisticsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/admin/operations/statistics',
    {
      config: { permission: 'operations:stats' },
      schema: {
        tags: ['money', 'admin'],
        summary: 'Staff: counts and totals by type, status and UTC day (ledger entries and operations)',
        security: [{ bearerAuth: [] }],
        querystring: StatisticsQuerySchema,
        response: { 200: StatisticsSchema, ...errorResponses('VALIDATION_FAILED') },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      return readStatistics(app.database.db, principal, request.query.days);
    },
  );

  app.get(
    '/v1/admin/assets/supply',
    {
      config: { permission: 'operations:stats' },
      schema: {
        tags: ['money', 'admin'],
        summary:
          'Staff: total supply per asset — what customers hold, and the system accounts that balance it',
        security: [{ bearerAuth: [] }],
        response: { 200: SupplySchema, ...errorResponses('UNAUTHENTICATED') },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      return readTotalSupply(app.database.db, principal);
    },
  );
};
