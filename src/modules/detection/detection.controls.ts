import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { withScope } from '../../db/tenant-transaction.ts';
import { addressNetwork } from '../../platform/ip-network.ts';
import { readActiveControls } from './detection.repository.ts';

/**
 * What a process holds of one tenant's responses: blocked networks (until, ms; keyed by
 * addressNetwork: an IPv4 address, an IPv6 `network/length`), the IPv6 prefix lengths among them, and
 * users owing a step-up.
 */
export interface TenantControls {
  loadedAtMs: number;
  blockedUntilMs: Map<string, number>;
  ipv6PrefixLengths: Set<number>;
  stepUpUserIds: Set<string>;
}

/** Tenants whose controls one process keeps; past it the oldest copy is dropped (and read again when needed). */
const tenantsMax = 10_000;

/**
 * Each process's copy of the tenants' live address blocks and pending step-ups, read from the
 * database at most every `maxAgeMs`: a request checks memory, not the database. A copy older than
 * that (or dropped by `invalidate` in the process that just blocked) is read again before the request
 * goes on, one read per tenant however many requests wait for it, so another process enforces a new
 * block within `maxAgeMs`. A failed read keeps the last copy for another `maxAgeMs` and logs.
 */
export class ActiveControlsCache {
  readonly #db: Kysely<Database>;
  readonly #maxAgeMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #held = new Map<string, TenantControls>();
  readonly #loading = new Map<string, Promise<TenantControls>>();

  constructor(db: Kysely<Database>, maxAgeMs: number, onError: (error: unknown) => void) {
    this.#db = db;
    this.#maxAgeMs = maxAgeMs;
    this.#onError = onError;
  }

  async get(tenantId: string): Promise<TenantControls> {
    const held = this.#held.get(tenantId);
    if (held && Date.now() - held.loadedAtMs < this.#maxAgeMs) return held;
    return this.#load(tenantId);
  }

  /**
   * Seconds the address is still blocked in the tenant, or 0: an IPv4 address by its own block, an
   * IPv6 one by a block on any network holding it (each prefix length a block was written with, so a
   * block written before DETECTION_IPV6_BLOCK_PREFIX changed still holds as written).
   */
  async blockedSeconds(tenantId: string, ip: string): Promise<number> {
    const controls = await this.get(tenantId);
    let until = 0;
    for (const length of [128, ...controls.ipv6PrefixLengths])
      until = Math.max(until, controls.blockedUntilMs.get(addressNetwork(ip, length)) ?? 0);
    const seconds = Math.ceil((until - Date.now()) / 1000);
    return Math.max(seconds, 0);
  }

  /** This process changed the tenant's controls: the next request reads them again. */
  invalidate(tenantId: string): void {
    this.#held.delete(tenantId);
  }

  /** The user has satisfied (or no longer owes) a step-up, as the database just said. */
  forgetStepUp(tenantId: string, userId: string): void {
    this.#held.get(tenantId)?.stepUpUserIds.delete(userId);
  }

  #load(tenantId: string): Promise<TenantControls> {
    const loading = this.#loading.get(tenantId);
    if (loading) return loading;
    const started = this.#read(tenantId).finally(() => this.#loading.delete(tenantId));
    this.#loading.set(tenantId, started);
    return started;
  }

  async #read(tenantId: string): Promise<TenantControls> {
    try {
      const rows = await withScope(this.#db, { tenantId }, (transaction) =>
        readActiveControls(transaction, tenantId),
      );
      const controls: TenantControls = {
        loadedAtMs: Date.now(),
        blockedUntilMs: new Map(),
        ipv6PrefixLengths: new Set(),
        stepUpUserIds: new Set(rows.stepUps.map((row) => row.user_id)),
      };
      for (const block of rows.blocks) {
        const untilMs = block.blocked_until?.getTime() ?? 0;
        const network = addressNetwork(block.ip, block.prefix_length);
        if (network.includes('/')) controls.ipv6PrefixLengths.add(block.prefix_length);
        controls.blockedUntilMs.set(network, Math.max(untilMs, controls.blockedUntilMs.get(network) ?? 0));
      }
      this.#keep(tenantId, controls);
      return controls;
    } catch (error) {
      this.#onError(error);
      // Fail open on the cached copy (or nothing): a database outage must not refuse every request.
      const kept = this.#held.get(tenantId) ?? {
        loadedAtMs: 0,
        blockedUntilMs: new Map(),
        ipv6PrefixLengths: new Set(),
        stepUpUserIds: new Set(),
      };
      this.#keep(tenantId, { ...kept, loadedAtMs: Date.now() });
      return kept;
    }
  }

  #keep(tenantId: string, controls: TenantControls): void {
    this.#held.delete(tenantId);
    if (this.#held.size >= tenantsMax) {
      const oldest = this.#held.keys().next().value;
      if (oldest !== undefined) this.#held.delete(oldest);
    }
    this.#held.set(tenantId, controls);
  }
}
