import { statementMigration } from './run-statements.ts';

/**
 * Money ranges (issue 7, item 8): every value a customer or a JSON client sees is a number, exact only
 * up to 2^53 − 1, so customer balances, ledger entry amounts and the balances of customer entries stay
 * within it. System wallets (cash in, cash out, fees) accumulate every flow of their asset and use the
 * whole BIGINT range; the application computes them as exact BigInts. The posting code refuses a
 * movement that would pass these bounds with a 422 before writing; these CHECKs refuse it again
 * should that code ever be wrong.
 *
 * Frozen in time: this file must never import application code.
 */
const safeIntegerMaximum = '9007199254740991';

const up = [
  `alter table wallets add constraint wallets_customer_balance_range
     check (kind = 'system' or balance <= ${safeIntegerMaximum})`,
  `alter table transactions add constraint transactions_amount_range check (amount <= ${safeIntegerMaximum})`,
  `alter table transactions add constraint transactions_customer_balance_range
     check (user_id is null or (balance_before <= ${safeIntegerMaximum} and balance_after <= ${safeIntegerMaximum}))`,
  `alter table balance_holds add constraint balance_holds_amount_range check (amount <= ${safeIntegerMaximum})`,
  `alter table operations add constraint operations_amount_range check (amount <= ${safeIntegerMaximum})`,
];

const down = [
  'alter table operations drop constraint if exists operations_amount_range',
  'alter table balance_holds drop constraint if exists balance_holds_amount_range',
  'alter table transactions drop constraint if exists transactions_customer_balance_range',
  'alter table transactions drop constraint if exists transactions_amount_range',
  'alter table wallets drop constraint if exists wallets_customer_balance_range',
];

export const migration = statementMigration(up, down);
