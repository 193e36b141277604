import { type Kysely, sql } from 'kysely';
import type { Database, IndicatorType, Severity } from '../../db/schema.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import type { IndexedIndicator } from './indicators.index.ts';

const columns = [
  'id',
  'tenant_id',
  'indicator_type',
  'indicator_value',
  'threat_type',
  'severity',
  'source',
  'source_url',
  'description',
  'first_seen',
  'last_seen',
  'expires_at',
  'is_active',
  'created_at',
  'updated_at',
] as const;

export interface IndicatorFields {
  indicator_type: IndicatorType;
  indicator_value: string;
  threat_type: string;
  severity: Severity;
  confidence: number;
  source: string;
  description: string | null;
  expires_at: string | null;
}

/** The tenant's active indicators and the shared feed's, for the in-memory index. */
export function loadActiveIndicators(db: Kysely<Database>, tenantId: string): Promise<IndexedIndicator[]> {
  return withScope(db, { tenantId }, (transaction) =>
    transaction
      .selectFrom('threat_intelligence')
      .select(['id', 'indicator_type', 'indicator_value', 'severity', 'threat_type', 'expires_at'])
      .where('is_active', '=', true)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
      .execute(),
  );
}

export function listIndicators(
  transaction: ScopedTransaction,
  filter: { type?: IndicatorType | undefined; active?: boolean | undefined; beforeId?: string | undefined },
  limit: number,
) {
  let query = transaction
    .selectFrom('threat_intelligence')
    .select([...columns, sql<number>`confidence::float8`.as('confidence')]);
  if (filter.type) query = query.where('indicator_type', '=', filter.type);
  if (filter.active !== undefined) query = query.where('is_active', '=', filter.active);
  if (filter.beforeId) query = query.where('id', '<', filter.beforeId);
  return query.orderBy('id', 'desc').limit(limit).execute();
}

export type IndicatorRow = Awaited<ReturnType<typeof listIndicators>>[number];

/**
 * Inserts indicators of the tenant, or refreshes one it already has with the same type, value and
 * source (last_seen, severity, confidence, expiry; active again). Returns the rows written.
 */
export function upsertIndicators(
  transaction: ScopedTransaction,
  tenantId: string,
  indicators: readonly IndicatorFields[],
): Promise<IndicatorRow[]> {
  return transaction
    .insertInto('threat_intelligence')
    .values(indicators.map((indicator) => ({ ...indicator, tenant_id: tenantId })))
    .onConflict((conflict) =>
      conflict
        .expression(
          sql`coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), indicator_type, indicator_value, source`,
        )
        .doUpdateSet((eb) => ({
          threat_type: eb.ref('excluded.threat_type'),
          severity: eb.ref('excluded.severity'),
          confidence: eb.ref('excluded.confidence'),
          description: eb.ref('excluded.description'),
          expires_at: eb.ref('excluded.expires_at'),
          last_seen: sql`now()`,
          is_active: true,
        })),
    )
    .returning([...columns, sql<number>`confidence::float8`.as('confidence')])
    .execute();
}

export function updateIndicator(
  transaction: ScopedTransaction,
  tenantId: string,
  id: string,
  changes: Partial<
    Pick<IndicatorFields, 'severity' | 'confidence' | 'description' | 'expires_at' | 'threat_type'>
  > & {
    is_active?: boolean;
  },
): Promise<IndicatorRow | undefined> {
  return transaction
    .updateTable('threat_intelligence')
    .set(changes)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .returning([...columns, sql<number>`confidence::float8`.as('confidence')])
    .executeTakeFirst();
}
