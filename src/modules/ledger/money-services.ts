import type { Kysely } from 'kysely';
import type { MoneyConfig } from '../../config/money-config.ts';
import type { Database } from '../../db/schema.ts';

/** What a money service needs from the application. */
export interface MoneyServices {
  db: Kysely<Database>;
  money: MoneyConfig;
  /** The embedded engine has one connection (the transfer engine keeps one group in flight there). */
  databaseEngine?: 'pglite' | 'postgres' | undefined;
  /** The idle timeout the transfer statement applies when it checks a session (the guard's). */
  sessionIdleTimeoutSeconds?: number | undefined;
  /**
   * Set when detection is on: the transfer statement keeps each sender's velocity count in windows of
   * this many minutes and answers it with the result (migration 0018).
   */
  velocityWindowMinutes?: number | undefined;
}
