import { sql } from 'kysely';
import type { ScopedTransaction } from '../../db/tenant-transaction.ts';

export interface ConfigRow {
  key: string;
  value: string;
  updated_at: Date;
}

/** Every config of the transaction's tenant (a handful of rows: the cache loads them together). */
export function readTenantConfigs(transaction: ScopedTransaction, tenantId: string): Promise<ConfigRow[]> {
  return transaction
    .selectFrom('configs')
    .select(['key', 'value', 'updated_at'])
    .where('tenant_id', '=', tenantId)
    .orderBy('key')
    .execute();
}

/** The current value of one key under its row lock, so two staff changes apply one after the other. */
export function lockConfig(
  transaction: ScopedTransaction,
  tenantId: string,
  key: string,
): Promise<ConfigRow | undefined> {
  return transaction
    .selectFrom('configs')
    .select(['key', 'value', 'updated_at'])
    .where('tenant_id', '=', tenantId)
    .where('key', '=', key)
    .forUpdate()
    .executeTakeFirst();
}

export function upsertConfig(
  transaction: ScopedTransaction,
  tenantId: string,
  key: string,
  value: string,
): Promise<ConfigRow> {
  return transaction
    .insertInto('configs')
    .values({ tenant_id: tenantId, key, value })
    .onConflict((conflict) => conflict.columns(['tenant_id', 'key']).doUpdateSet({ value }))
    .returning(['key', 'value', 'updated_at'])
    .executeTakeFirstOrThrow();
}

export async function deleteConfig(
  transaction: ScopedTransaction,
  tenantId: string,
  key: string,
): Promise<boolean> {
  const result = await transaction
    .deleteFrom('configs')
    .where('tenant_id', '=', tenantId)
    .where('key', '=', key)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/**
 * Serializes the changes of a tenant's version pair (app_version, min_app_version) until the
 * transaction ends: each checks the pair it will leave against the other key's committed value, so
 * two concurrent changes, one of each key, cannot together leave the minimum above the latest. A
 * row lock would not do: the other key's row may not exist yet.
 */
export async function lockVersionPair(transaction: ScopedTransaction, tenantId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`corebank.config-versions.${tenantId}`}, 0))`.execute(
    transaction,
  );
}
