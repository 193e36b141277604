import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

// STUB until main's "legal holds (migration 0019)" is merged: no hold ever applies.
export async function userHasLegalHold(
  _transaction: ScopedTransaction,
  _userId: string,
  _now: Date,
): Promise<boolean> {
  return false;
}
