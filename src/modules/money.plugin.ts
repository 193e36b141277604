import type { FastifyInstance } from 'fastify';
import { bankAccountsRoutes } from './bank-accounts/bank-accounts.routes.ts';
import { disbursementsRoutes } from './disbursements/disbursements.routes.ts';
import { holdsRoutes } from './holds/holds.routes.ts';
import { kycRoutes } from './kyc/kyc.routes.ts';
import { statisticsRoutes } from './statistics/statistics.routes.ts';
import { topupApprovalsRoutes } from './transactions/topup-approvals.routes.ts';
import { transactionsRoutes } from './transactions/transactions.routes.ts';
import { transfersRoutes } from './transfers/transfers.routes.ts';
import { walletsRoutes } from './wallets/wallets.routes.ts';
import { withdrawalsRoutes } from './withdrawals/withdrawals.routes.ts';

/** Money (issue 4): wallets, ledger reads, top-up / transfer / withdraw, holds, bank accounts, KYC, staff reads. */
export async function registerMoney(app: FastifyInstance): Promise<void> {
  await app.register(walletsRoutes);
  await app.register(transactionsRoutes);
  await app.register(topupApprovalsRoutes);
  await app.register(transfersRoutes);
  await app.register(disbursementsRoutes);
  await app.register(withdrawalsRoutes);
  await app.register(holdsRoutes);
  await app.register(bankAccountsRoutes);
  await app.register(kycRoutes);
  await app.register(statisticsRoutes);
}
