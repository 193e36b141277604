import type { Redis } from 'ioredis';

/**
 * Fixed-window request counters in Redis, taken in leases (issue 10's benchmark): a process claims k
 * requests of a key's window with one atomic INCRBY and spends them locally, so a busy key costs one
 * Redis call per k requests instead of one per request (two per signed-in request before: the address
 * and the user, 7.5 µs each in Redis alone, plus the client's work, measured in bench:transfers).
 *
 * Hand-written because the well-kept limiters (@fastify/rate-limit, rate-limiter-flexible) make one
 * store call per request and offer no batching that keeps a shared limit exact.
 *
 * Exact on the side that matters: every request let through was claimed by an INCRBY that kept the
 * window's total within the maximum, so all processes together never let more than the maximum
 * through in a window. A lease is 1/16 of what remains of the window (at most 100, at least 1), or
 * the requests of this process waiting for it when they are more (at most what remains), so near the
 * limit a quiet key claims each request on its own; requests a process claimed and did not
 * spend before the window ended are lost to it, so a client may be refused up to that many requests
 * early. Leases end with their window (the key's TTL) and are forgotten past `leasesMax` keys.
 */

const leaseShare = 16;
const leaseMax = 100;
const leasesMax = 100_000;
/**
 * Claims one request makes or waits for. Each grants at least one request or finds the window full,
 * and is sized for the requests waiting, so a request is refused here only under a burst that keeps
 * taking every claim's requests first (never over the maximum).
 */
const claimAttemptsMax = 20;

const claimScript = `
  local total = redis.call('INCRBY', KEYS[1], ARGV[1])
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    ttl = tonumber(ARGV[2])
  end
  return {total, ttl}
`;

export interface CounterOutcome {
  key: string;
  max: number;
  /** The requests left to this client in the window, as this process knows it. */
  remaining: number;
  /** Until the window ends (leases keep time by the monotonic clock, so a clock step cannot stretch one). */
  ttlMs: number;
  exceeded: boolean;
}

interface Lease {
  /** Claimed and not yet spent by this process. */
  tokens: number;
  /** The window's total after this process's last claim (every process's claims). */
  total: number;
  expiresAt: number;
}

type ClaimingRedis = Redis & {
  corebankRateLimitClaim(key: string, count: number, windowMs: number): Promise<[number, number]>;
};

export class LeasedCounter {
  readonly #redis: ClaimingRedis;
  readonly #leases = new Map<string, Lease>();
  readonly #pending = new Map<string, Promise<void>>();
  /** Requests of this process waiting for a key's claim in flight. */
  readonly #waiting = new Map<string, number>();

  constructor(
    redis: Redis,
    private readonly windowMs: number,
    private readonly prefix: string,
  ) {
    if (!('corebankRateLimitClaim' in redis))
      redis.defineCommand('corebankRateLimitClaim', { numberOfKeys: 1, lua: claimScript });
    this.#redis = redis as ClaimingRedis;
  }

  /** Counts one request of `key` against `max`; throws when Redis does not answer (the caller fails open). */
  async take(key: string, max: number): Promise<CounterOutcome> {
    for (let attempt = 0; attempt < claimAttemptsMax; attempt += 1) {
      // Read and spent with no await between: a lease is one object, changed only in place.
      const lease = this.#current(key);
      // A key's requests may count against different maximums (the adaptive user limit): a request
      // is refused once the window's spent requests reach its own, whatever the lease holds.
      if (lease && lease.total - lease.tokens >= max) return this.#refusal(key, max, lease);
      if (lease && lease.tokens > 0) return this.#spend(key, max, lease);
      // Requests arriving while a claim of their key is in flight wait for it instead of claiming too;
      // the next claim is sized for them.
      const pending = this.#pending.get(key);
      if (!pending) {
        await this.#claimOnce(key, max);
        continue;
      }
      this.#waiting.set(key, (this.#waiting.get(key) ?? 0) + 1);
      try {
        // A failed claim fails its waiters too: the caller lets them through (Redis did not answer),
        // rather than each claiming again behind the last and being refused once out of attempts.
        await pending;
      } finally {
        const waiting = (this.#waiting.get(key) ?? 1) - 1;
        if (waiting > 0) this.#waiting.set(key, waiting);
        else this.#waiting.delete(key);
      }
    }
    // Every claim's requests were spent by others of this process first: refused, never over.
    const lease = this.#current(key);
    return this.#refusal(key, max, lease);
  }

  #spend(key: string, max: number, lease: Lease): CounterOutcome {
    lease.tokens -= 1;
    const remaining = Math.max(0, max - (lease.total - lease.tokens));
    return { key, max, remaining, ttlMs: Math.max(0, lease.expiresAt - performance.now()), exceeded: false };
  }

  #refusal(key: string, max: number, lease: Lease | undefined): CounterOutcome {
    const ttlMs = lease ? Math.max(0, lease.expiresAt - performance.now()) : this.windowMs;
    return { key, max, remaining: 0, ttlMs, exceeded: true };
  }

  #current(key: string): Lease | undefined {
    const lease = this.#leases.get(key);
    if (lease && lease.expiresAt <= performance.now()) {
      this.#leases.delete(key);
      return undefined;
    }
    return lease;
  }

  #claimOnce(key: string, max: number): Promise<void> {
    const claim = this.#claim(key, max).finally(() => {
      if (this.#pending.get(key) === claim) this.#pending.delete(key);
    });
    this.#pending.set(key, claim);
    return claim;
  }

  async #claim(key: string, max: number): Promise<void> {
    const left = Math.max(0, max - (this.#current(key)?.total ?? 0));
    const demand = 1 + (this.#waiting.get(key) ?? 0);
    const share = Math.max(1, Math.min(leaseMax, Math.floor(left / leaseShare)));
    const count = Math.max(share, Math.min(demand, left));
    const sentAt = performance.now();
    const [total, ttlMs] = await this.#redis.corebankRateLimitClaim(this.prefix + key, count, this.windowMs);
    // The claim counted `count` requests; only those within the maximum are this process's to spend.
    const granted = Math.max(0, Math.min(count, max - (total - count)));
    // Measured from before the call, so a lease never outlives the key's window.
    const expiresAt = sentAt + ttlMs;
    const lease = this.#current(key);
    if (lease && total - count >= lease.total) {
      lease.tokens += granted;
      lease.total = total;
      lease.expiresAt = Math.min(lease.expiresAt, expiresAt);
      return;
    }
    // No lease, or the key's window ended and began again since: unspent requests end with their window.
    if (this.#leases.size >= leasesMax) this.#leases.clear();
    if (lease) {
      Object.assign(lease, { tokens: granted, total, expiresAt });
      return;
    }
    this.#leases.set(key, { tokens: granted, total, expiresAt });
  }
}
