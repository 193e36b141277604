import { sql } from 'kysely';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

/**
 * daily_totals (migration 0010): per-day counters of a wallet's outgoing amount (transfers, and
 * withdrawals counted when requested) and of what a staff member credited without approval.
 */
export type DailyTotalKind = 'wallet_outgoing' | 'staff_credit';

/** Today's (UTC) total of one counter; 0 when nothing was counted today. */
export async function readDailyTotal(
  transaction: ScopedTransaction,
  tenantId: string,
  kind: DailyTotalKind,
  subject: string,
  assetCode: string,
): Promise<number> {
  const row = await transaction
    .selectFrom('daily_totals')
    .select('amount')
    .where('tenant_id', '=', tenantId)
    .where('kind', '=', kind)
    .where('subject', '=', subject)
    .where('asset_code', '=', assetCode)
    .where('day', '=', sql<Date>`(now() at time zone 'UTC')::date`)
    .executeTakeFirst();
  return row?.amount ?? 0;
}

/**
 * Adds to (or, negative, gives back to) a wallet's outgoing total of the UTC day `at` falls on (today
 * by default). A give-back never takes the total below zero.
 */
export async function addDailyOutgoing(
  transaction: ScopedTransaction,
  tenantId: string,
  wallet: { id: string; assetCode: string },
  amount: number,
  at?: Date,
): Promise<void> {
  const day = at
    ? sql`(${at.toISOString()}::timestamptz at time zone 'UTC')::date`
    : sql`(now() at time zone 'UTC')::date`;
  await sql`
    insert into daily_totals as d (tenant_id, kind, subject, asset_code, day, amount)
    values (${tenantId}, 'wallet_outgoing', ${wallet.id}, ${wallet.assetCode}, ${day}, greatest(${amount}::bigint, 0))
    on conflict (tenant_id, kind, subject, asset_code, day)
      do update set amount = greatest(d.amount + ${amount}::bigint, 0)`.execute(transaction);
}

/**
 * Adds `amount` to what the staff member credited today without approval, if the day's total stays
 * within `threshold`: one conditional upsert, so two concurrent top-ups by one staff member cannot both
 * pass (the row lock decides). Returns false when the amount needs a second staff member.
 */
export async function claimStaffCredit(
  transaction: ScopedTransaction,
  tenantId: string,
  staffId: string,
  assetCode: string,
  amount: number,
  threshold: number,
): Promise<boolean> {
  if (amount > threshold) return false;
  const claimed = await sql<{ amount: number }>`
    insert into daily_totals as d (tenant_id, kind, subject, asset_code, day, amount)
    values (${tenantId}, 'staff_credit', ${staffId}, ${assetCode}, (now() at time zone 'UTC')::date, ${amount})
    on conflict (tenant_id, kind, subject, asset_code, day)
      do update set amount = d.amount + excluded.amount where d.amount + excluded.amount <= ${threshold}
    returning d.amount`.execute(transaction);
  return claimed.rows.length > 0;
}

/**
 * Gives back part of what the staff member claimed today (claimStaffCredit) for items that did not
 * post. The row is already locked by this transaction's claim; the total never goes below zero.
 */
export async function giveBackStaffCredit(
  transaction: ScopedTransaction,
  tenantId: string,
  staffId: string,
  assetCode: string,
  amount: number,
): Promise<void> {
  await sql`
    update daily_totals set amount = greatest(amount - ${amount}::bigint, 0)
    where tenant_id = ${tenantId} and kind = 'staff_credit' and subject = ${staffId}
      and asset_code = ${assetCode} and day = (now() at time zone 'UTC')::date`.execute(transaction);
}
