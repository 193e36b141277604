import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppInstance } from '../../app.ts';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import type { MoneyServices } from '../ledger/money-services.ts';
import {
  CustomerParamsSchema,
  HoldListQuerySchema,
  HoldListSchema,
  HoldParamsSchema,
  HoldSchema,
  PlaceHoldBodySchema,
} from './holds.schemas.ts';
import { endStaffHold, listUserHolds, placeStaffHold } from './holds.service.ts';

const secured = [{ bearerAuth: [] }];

export const holdsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const services: MoneyServices = { db: app.database.db, money: app.config.money };
  registerPlaceHold(app, services);
  registerEndHold(app, services, 'release', 'released');
  registerEndHold(app, services, 'capture', 'captured');
  registerCustomerHolds(app, services);
};

function registerPlaceHold(app: AppInstance, services: MoneyServices): void {
  app.post(
    '/v1/admin/holds',
    {
      config: { permission: 'holds:manage' },
      schema: {
        tags: ['money', 'admin'],
        summary: "Staff: hold part of a customer's available balance",
        security: secured,
        body: PlaceHoldBodySchema,
        response: {
          201: HoldSchema,
          ...errorResponses(
            'NOT_FOUND',
            'INSUFFICIENT_FUNDS',
            'ACCOUNT_BLOCKED',
            'MAINTENANCE_MODE',
            'TRANSACTION_CONFLICT',
          ),
        },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const audit = auditContextFromRequest(request, principal.tenantId, request.body.user_id);
      const placed = await placeStaffHold(services, principal, audit, request.body);
      return reply.code(201).send(placed);
    },
  );
}

function registerEndHold(
  app: AppInstance,
  services: MoneyServices,
  action: 'release' | 'capture',
  outcome: 'released' | 'captured',
): void {
  app.post(
    `/v1/admin/holds/:id/${action}`,
    {
      config: { permission: 'holds:manage' },
      schema: {
        tags: ['money', 'admin'],
        summary: `Staff: ${action} an active hold (exactly once; again is 409 HOLD_NOT_ACTIVE)`,
        security: secured,
        params: HoldParamsSchema,
        response: {
          200: HoldSchema,
          ...errorResponses(
            'NOT_FOUND',
            'HOLD_NOT_ACTIVE',
            'CONFLICT',
            'MAINTENANCE_MODE',
            'TRANSACTION_CONFLICT',
            'SUPPLY_LIMIT_EXCEEDED',
          ),
        },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const audit = auditContextFromRequest(request, principal.tenantId);
      return endStaffHold(services, principal, audit, request.params.id, outcome);
    },
  );
}

function registerCustomerHolds(app: AppInstance, services: MoneyServices): void {
  app.get(
    '/v1/admin/users/:id/holds',
    {
      config: { permission: 'holds:manage' },
      schema: {
        tags: ['money', 'admin'],
        summary: "Staff: a customer's holds, newest first, keyset-paginated",
        security: secured,
        params: CustomerParamsSchema,
        querystring: HoldListQuerySchema,
        response: { 200: HoldListSchema, ...errorResponses('NOT_FOUND') },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      return listUserHolds(services, principal, request.params.id, request.query);
    },
  );
}
