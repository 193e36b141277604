import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

export interface PayoutRequest {
  /** Our operation id: the provider keys on it, so asking twice pays once. */
  reference: string;
  assetCode: string;
  amount: number;
  bankCode: string | null;
  accountNumber: string;
  accountName: string;
}

export type PayoutResult =
  | { outcome: 'paid'; externalReference: string; transactionHash?: string | undefined }
  | { outcome: 'failed'; errorMessage: string }
  /** No answer (timeout, network): the payout may or may not have happened; ask again later. */
  | { outcome: 'unanswered'; errorMessage: string };

/** The bank (or chain) that moves money out; a withdrawal is debited only after it says `paid`. */
export interface PayoutProvider {
  payout(request: PayoutRequest): Promise<PayoutResult>;
}

export interface SimulatedBankOptions {
  failurePercent: number;
  delayMs: number;
  random?: () => number;
}

const rememberedResultsMax = 100_000;

/**
 * The development payout provider: answers after a delay, fails a configurable share of payouts, and
 * like a real bank returns the first answer again when the same reference is sent twice (a worker
 * that crashed after sending asks again on restart).
 */
export function createSimulatedBank(options: SimulatedBankOptions): PayoutProvider {
  const random = options.random ?? Math.random;
  const results = new Map<string, PayoutResult>();
  return {
    async payout(request) {
      const known = results.get(request.reference);
      if (known) return known;
      if (options.delayMs > 0) await sleep(options.delayMs);
      const result: PayoutResult =
        random() * 100 < options.failurePercent
          ? {
              outcome: 'failed',
              errorMessage: 'Simulated bank rejected the transfer (destination account closed)',
            }
          : {
              outcome: 'paid',
              externalReference: `SIMBANK-${randomBytes(6).toString('hex').toUpperCase()}`,
              // A chain payout (BTC) is identified by its transaction hash as well (seed 002 bitcoin_tx_hash).
              ...(request.assetCode === 'BTC' ? { transactionHash: randomBytes(32).toString('hex') } : {}),
            };
      if (results.size >= rememberedResultsMax) results.clear();
      results.set(request.reference, result);
      return result;
    },
  };
}
