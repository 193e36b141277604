import { Type } from '@sinclair/typebox';

/** Exact integer sums as decimal strings: a sum of many amounts may pass 2^53. */
const DecimalString = Type.String({
  pattern: '^-?[0-9]+$',
  maxLength: 40,
  description: 'Exact integer in minor units.',
});

export const StatisticsSchema = Type.Object(
  {
    days: Type.Integer({ minimum: 1, maximum: 366 }),
    statistics: Type.Array(
      Type.Object(
        {
          source: Type.Union([Type.Literal('ledger'), Type.Literal('operation')]),
          type: Type.String({ maxLength: 50 }),
          status: Type.String({ maxLength: 20 }),
          day: Type.String({ format: 'date' }),
          count: Type.Integer({ minimum: 0 }),
          total_amount: DecimalString,
        },
        { additionalProperties: false },
      ),
      { maxItems: 5000 },
    ),
  },
  {
    additionalProperties: false,
    examples: [
      {
        days: 30,
        statistics: [
          {
            source: 'operation',
            type: 'withdrawal',
            status: 'completed',
            day: '2026-11-22',
            count: 3,
            total_amount: '6000000',
          },
        ],
      },
    ],
  },
);

export const SupplySchema = Type.Object(
  {
    assets: Type.Array(
      Type.Object(
        {
          asset: Type.String({ maxLength: 16 }),
          customer_balance_total: DecimalString,
          customer_locked_total: DecimalString,
          customer_wallets: Type.Integer({ minimum: 0 }),
          cash_in_balance: DecimalString,
          cash_out_balance: DecimalString,
          fees_balance: DecimalString,
          all_wallets_sum: DecimalString,
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
        assets: [
          {
            asset: 'IDR',
            customer_balance_total: '298000000',
            customer_locked_total: '3000000',
            customer_wallets: 6,
            cash_in_balance: '-300000000',
            cash_out_balance: '2000000',
            fees_balance: '0',
            all_wallets_sum: '0',
          },
        ],
      },
    ],
  },
);

/** GET /v1/admin/operations/statistics?days=N */
export const StatisticsQuerySchema = Type.Object(
  { days: Type.Integer({ minimum: 1, maximum: 366, default: 30 }) },
  { additionalProperties: false },
);
