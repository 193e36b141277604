import { heldUserIds } from '../legal-holds/legal-holds.repository.ts';
import type { OwnerTransaction } from './retention.repository.ts';

/**
 * The users whose rows the retention job must keep: every tenant's users under a legal hold that is
 * neither released nor expired. Read in the job's own transaction, as the owner with row-level
 * security off (the job needs a superuser or BYPASSRLS user, docs/operations.md), so heldUserIds —
 * which otherwise answers for the scope's tenant — sees every tenant's holds; after the job has
 * locked legal_holds against change (lockHoldsAndIncidents), so a hold cannot commit between this
 * read and the delete.
 */
export async function heldUsersForRetention(transaction: OwnerTransaction, now: Date): Promise<string[]> {
  return heldUserIds(transaction, now);
}
