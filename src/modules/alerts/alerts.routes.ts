import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { IdParamsSchema } from '../../platform/schema-types.ts';
import { AlertListQuerySchema, AlertListSchema, AlertSchema } from './alerts.schemas.ts';
import { listAlertDeliveries, retryAlertDelivery } from './alerts.service.ts';

const secured = [{ bearerAuth: [] }];
const tags = ['security', 'admin'];
const path = '/v1/admin/security/alerts';

const tenantOf = (request: Parameters<typeof requirePrincipal>[0]) => requirePrincipal(request).tenantId;

/**
 * The alert outbox for staff (issue 10 item 9): its deliveries (the dead letters with ?status=dead)
 * and the retry of a dead one. Both under security:manage: a dead letter is an operating task of
 * whoever runs the sinks, and its list shows which critical events went unsent.
 */
export const alertRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const db = app.database.db;
  app.get(
    path,
    {
      config: { permission: 'security:manage' },
      schema: {
        tags,
        summary: 'Staff: alert deliveries to the sinks, newest first (?status=dead: the dead letters)',
        security: secured,
        querystring: AlertListQuerySchema,
        response: { 200: AlertListSchema, ...errorResponses('VALIDATION_FAILED') },
      },
    },
    async (request) => listAlertDeliveries(db, tenantOf(request), request.query),
  );
  app.post(
    `${path}/:id/retry`,
    {
      config: { permission: 'security:manage' },
      schema: {
        tags,
        summary: 'Staff: send a dead letter again (pending, attempts reset, due at the next run)',
        security: secured,
        params: IdParamsSchema('The alert delivery.'),
        response: { 200: AlertSchema, ...errorResponses('NOT_FOUND', 'CONFLICT') },
      },
    },
    async (request) =>
      retryAlertDelivery(db, auditContextFromRequest(request, tenantOf(request)), request.params.id),
  );
};
