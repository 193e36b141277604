import type { Insertable } from 'kysely';
import type { SecurityEventsTable } from '../../db/schema.ts';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

export type NewSecurityEventRow = Insertable<SecurityEventsTable>;

/** One security event (seed 001 security_logs, seeds 003 and 004 security_events), in the caller's transaction. */
export async function insertSecurityEventRow(
  transaction: ScopedTransaction,
  row: NewSecurityEventRow,
): Promise<void> {
  await transaction.insertInto('security_events').values(row).execute();
}

/** Several events in one INSERT (the batched writers of refused requests). */
export async function insertSecurityEventRows(
  transaction: ScopedTransaction,
  rows: readonly NewSecurityEventRow[],
): Promise<void> {
  if (rows.length > 0)
    await transaction
      .insertInto('security_events')
      .values([...rows])
      .execute();
}
