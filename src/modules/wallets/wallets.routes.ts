import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { callerOf } from '../../platform/auth/principal.ts';
import { errorResponses } from '../../platform/openapi.ts';
import { listBalances } from './wallets.repository.ts';

const BalancesSchema = Type.Object(
  {
    balances: Type.Array(
      Type.Object(
        {
          asset: Type.String({ maxLength: 16 }),
          account_number: Type.Union([Type.String({ maxLength: 50 }), Type.Null()]),
          balance: Type.Integer({ minimum: 0, description: 'Minor units.' }),
          locked: Type.Integer({ minimum: 0, description: 'Held by active holds and pending withdrawals.' }),
          available: Type.Integer({ minimum: 0, description: 'balance − locked.' }),
        },
        { additionalProperties: false },
      ),
      { maxItems: 100 },
    ),
  },
  {
    additionalProperties: false,
    examples: [
      {
        balances: [
          {
            asset: 'IDR',
            account_number: '1234567801',
            balance: 48500000,
            locked: 3000000,
            available: 45500000,
          },
        ],
      },
    ],
  },
);

export const walletsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/me/balances',
    {
      config: { permission: 'wallets:read_own', sessionCheck: 'with-read' },
      schema: {
        tags: ['money'],
        summary: 'Every wallet of the caller: asset, balance, locked and available (minor units)',
        security: [{ bearerAuth: [] }],
        response: { 200: BalancesSchema, ...errorResponses('UNAUTHENTICATED') },
      },
    },
    async (request) => ({ balances: await listBalances(app.database, callerOf(request).scope) }),
  );
};
