import type { Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { Database } from '../../db/schema.ts';
import { withScope } from '../../db/tenant-transaction.ts';
import { readTenantConfigs } from './configs.repository.ts';

/** A tenant's configs as the gates read them: key → stored value. */
export type TenantConfigs = ReadonlyMap<string, string>;

const tenantsMax = 10_000;

/**
 * The configs of each tenant, per process, for at most `ttlMs` (CONFIG_CACHE_MS): a change made by
 * any process reaches every other within that time, with no message between them; the process that
 * made it forgets its copy at once. A load is shared by the requests that wait for it.
 */
export class ConfigCache {
  readonly #cache: LRUCache<string, TenantConfigs>;

  constructor(db: Kysely<Database>, ttlMs: number) {
    this.#cache = new LRUCache<string, TenantConfigs>({
      max: tenantsMax,
      ttl: Math.max(ttlMs, 1),
      fetchMethod: async (tenantId) => {
        const rows = await withScope(db, { tenantId }, (transaction) =>
          readTenantConfigs(transaction, tenantId),
        );
        return new Map(rows.map((row) => [row.key, row.value]));
      },
    });
  }

  async get(tenantId: string): Promise<TenantConfigs> {
    const configs = await this.#cache.fetch(tenantId);
    if (!configs) throw new Error(`configs of tenant ${tenantId} not loaded`);
    return configs;
  }

  forget(tenantId: string): void {
    this.#cache.delete(tenantId);
  }
}
