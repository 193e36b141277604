import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { withScope } from '../../db/tenant-transaction.ts';
import { readActiveControls } from './detection.repository.ts';

/** What a process holds of one tenant's responses: blocked addresses (until, ms) and users owing a step-up. */
export interface TenantControls {
  loadedAtMs: number;
  blockedUntilMs: Map<string, number>;
  stepUpUserIds: Set<string>;
}

/** Tenants whose controls one process keeps; past it the oldest copy is dropped (and read again when needed). */
const tenantsMax = 10_000;

/** An IPv4 address written as IPv6 (::ffff:10.0.0.1) is the IPv4 address; PostgreSQL's host() writes it plain. */
export function canonicalAddress(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return (mapped?.[1] ?? ip).toLowerCase();
}

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

  /** Seconds the address is still blocked in the tenant, or 0. */
  async blockedSeconds(tenantId: string, ip: string): Promise<number> {
    const controls = await this.get(tenantId);
    const until = controls.blockedUntilMs.get(canonicalAddress(ip));
    if (until === undefined) return 0;
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
        stepUpUserIds: new Set(rows.stepUps.map((row) => row.user_id)),
      };
      for (const block of rows.blocks) {
        const untilMs = block.blocked_until?.getTime() ?? 0;
        const ip = canonicalAddress(block.ip);
        controls.blockedUntilMs.set(ip, Math.max(untilMs, controls.blockedUntilMs.get(ip) ?? 0));
      }
      this.#keep(tenantId, controls);
      return controls;
    } catch (error) {
      this.#onError(error);
      // Fail open on the cached copy (or nothing): a database outage must not refuse every request.
      const kept = this.#held.get(tenantId) ?? {
        loadedAtMs: 0,
        blockedUntilMs: new Map(),
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
