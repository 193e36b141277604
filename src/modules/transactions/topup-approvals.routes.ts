import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppInstance } from '../../app.ts';
import { auditContextFromRequest } from '../../platform/audit/request-audit-context.ts';
import { requirePrincipal } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import type { MoneyServices } from '../ledger/money-services.ts';
import {
  approveTopup,
  listTopupApprovals,
  rejectTopup,
  viewTopupApproval,
} from './topup-approvals.service.ts';
import {
  ApprovalIdParamsSchema,
  moneyMovementErrorCodes,
  RejectionBodySchema,
  TopupApprovalListQuerySchema,
  TopupApprovalListSchema,
  TopupApprovalSchema,
} from './transactions.schemas.ts';

const secured = [{ bearerAuth: [] }];

/** The checkers' side of maker–checker staff top-ups (issue 7.6); the maker uses POST /v1/admin/users/:id/topup. */
export const topupApprovalsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const services: MoneyServices = { db: app.database.db, money: app.config.money };
  registerList(app, services);
  registerView(app, services);
  registerApprove(app, services);
  registerReject(app, services);
};

function registerList(app: AppInstance, services: MoneyServices): void {
  app.get(
    '/v1/admin/topup-approvals',
    {
      config: { permission: 'topups:approve' },
      schema: {
        tags: ['money', 'admin'],
        summary: 'Staff: top-up requests above the approval threshold, pending by default, newest first',
        security: secured,
        querystring: TopupApprovalListQuerySchema,
        response: { 200: TopupApprovalListSchema, ...errorResponses('VALIDATION_FAILED') },
      },
    },
    async (request) => listTopupApprovals(services, requirePrincipal(request), request.query),
  );
}

function registerView(app: AppInstance, services: MoneyServices): void {
  app.get(
    '/v1/admin/topup-approvals/:id',
    {
      config: { permission: 'topups:approve' },
      schema: {
        tags: ['money', 'admin'],
        summary: 'Staff: one top-up request',
        security: secured,
        params: ApprovalIdParamsSchema,
        response: { 200: TopupApprovalSchema, ...errorResponses('NOT_FOUND') },
      },
    },
    async (request) => viewTopupApproval(services, requirePrincipal(request), request.params.id),
  );
}

function registerApprove(app: AppInstance, services: MoneyServices): void {
  app.post(
    '/v1/admin/topup-approvals/:id/approve',
    {
      config: { permission: 'topups:approve' },
      schema: {
        tags: ['money', 'admin'],
        summary:
          'Staff (not the maker): approve a top-up request; the top-up posts exactly once, and approving again answers the same',
        security: secured,
        params: ApprovalIdParamsSchema,
        response: {
          200: TopupApprovalSchema,
          ...errorResponses(
            'NOT_FOUND',
            'TOPUP_APPROVAL_DECIDED',
            'SEGREGATION_OF_DUTIES',
            ...moneyMovementErrorCodes,
          ),
        },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const audit = auditContextFromRequest(request, principal.tenantId);
      return approveTopup(services, principal, audit, request.params.id);
    },
  );
}

function registerReject(app: AppInstance, services: MoneyServices): void {
  app.post(
    '/v1/admin/topup-approvals/:id/reject',
    {
      config: { permission: 'topups:approve' },
      schema: {
        tags: ['money', 'admin'],
        summary: 'Staff (not the maker): reject a top-up request with a reason; no money moves',
        security: secured,
        params: ApprovalIdParamsSchema,
        body: RejectionBodySchema,
        response: {
          200: TopupApprovalSchema,
          ...errorResponses('NOT_FOUND', 'TOPUP_APPROVAL_DECIDED', 'SEGREGATION_OF_DUTIES'),
        },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const audit = auditContextFromRequest(request, principal.tenantId);
      return rejectTopup(services, principal, audit, request.params.id, request.body.reason);
    },
  );
}
