import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { withScope } from '../../db/tenant-transaction.ts';
import { readTrustScores, type TrustScores } from './rate-limits.repository.ts';

/**
 * Adaptive limits (seed 003 rate_limit_entries.adaptive_limit / trust_multiplier; issue 10 item 6):
 * the per-user limit is the base limit times a multiplier from the user's trust score and the
 * device's. The user's score starts at 50 and each lockout lowers it by 10 (identity's login
 * attempts); a trusted device's ("remember this device" after a second factor) starts at 50 and
 * rises by 1 with each login from it. A session opened from a trusted device counts the combination
 * below; any other session the user's score alone.
 */
/**
 * A trusted device raises the score of a user in good standing (50 or more) to the mean of the two,
 * never lowers it, and does nothing below 50: a user whose lockouts lowered their score cannot log in
 * from a remembered device until its score lifts their limit again.
 */
export function combinedTrustScore(scores: TrustScores): number {
  if (scores.device === undefined || scores.user < goodStandingScore) return scores.user;
  return Math.max(scores.user, (scores.user + scores.device) / 2);
}

const goodStandingScore = 50;

export function trustMultiplier(trustScore: number): number {
  if (trustScore >= 80) return 2;
  if (trustScore >= 50) return 1;
  if (trustScore >= 20) return 0.5;
  return 0.25;
}

/** The adaptive maximum: never below one request per window. */
export function adaptiveLimit(baseLimit: number, multiplier: number): number {
  return Math.max(1, Math.floor(baseLimit * multiplier));
}

const entriesMax = 100_000;

/**
 * Each process's copy of users' multipliers, read at most once per `maxAgeMs` per user. A lookup never
 * waits for the database: a user not held yet (or held too long) counts at the multiplier held, 1 for
 * a new one, while the score is read in the background. A failed read keeps the old value.
 */
export class TrustMultipliers {
  readonly #db: Kysely<Database>;
  readonly #maxAgeMs: number;
  readonly #held = new Map<string, { multiplier: number; loadedAtMs: number }>();
  readonly #loading = new Set<string>();

  constructor(db: Kysely<Database>, maxAgeMs: number) {
    this.#db = db;
    this.#maxAgeMs = maxAgeMs;
  }

  /** The multiplier of a user's session (its trusted device counts); undefined session: the user's. */
  multiplier(tenantId: string, userId: string, sessionId: string | undefined): number {
    const key = `${tenantId}:${userId}:${sessionId ?? ''}`;
    const held = this.#held.get(key);
    if (!held || Date.now() - held.loadedAtMs >= this.#maxAgeMs)
      void this.#load(key, { tenantId, userId, sessionId });
    return held?.multiplier ?? 1;
  }

  /** Resolves when no read is in flight (tests). */
  async settled(): Promise<void> {
    while (this.#loading.size > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  async #load(
    key: string,
    { tenantId, userId, sessionId }: { tenantId: string; userId: string; sessionId: string | undefined },
  ): Promise<void> {
    if (this.#loading.has(key) || this.#loading.size >= 1000) return;
    this.#loading.add(key);
    try {
      const scores = await withScope(this.#db, { tenantId }, (transaction) =>
        readTrustScores(transaction, tenantId, userId, sessionId),
      );
      this.#held.delete(key);
      if (this.#held.size >= entriesMax) {
        const oldest = this.#held.keys().next().value;
        if (oldest !== undefined) this.#held.delete(oldest);
      }
      const score = scores ? combinedTrustScore(scores) : 50;
      this.#held.set(key, { multiplier: trustMultiplier(score), loadedAtMs: Date.now() });
    } catch {
      // The database is unavailable or the user is gone: keep counting at the value held.
      const held = this.#held.get(key);
      if (held) held.loadedAtMs = Date.now();
    } finally {
      this.#loading.delete(key);
    }
  }
}
