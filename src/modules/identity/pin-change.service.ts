import assert from 'node:assert/strict';
import type { Config } from '../../config/config.ts';
import type { DatabaseHandle } from '../../db/database.ts';
import { withScope } from '../../db/tenant-transaction.ts';
import { type AuditContext, recordAudit } from '../../platform/audit/audit-trail.ts';
import type { Principal } from '../../platform/auth/principal.ts';
import { AppError } from '../../platform/errors.ts';
import { recordCredentialChange } from '../security-events/security-events.service.ts';
import { endSessions, scopeOf } from '../sessions/sessions.service.ts';
import { hashNewPin } from './banking-login.service.ts';
import { verifyPin } from './credential-hashing.ts';
import {
  type AttemptServices,
  decideAttempt,
  type LoginAttempt,
  recordFailureAlone,
} from './login-attempts.ts';
import { assertPinPolicy } from './pin-policy.ts';
import { findPinCredential, updatePin } from './users.repository.ts';

/**
 * Changing the banking PIN (issue 10). A wrong current PIN is decided and counted as a wrong login
 * PIN is (login-attempts.ts: under the account's row lock, the same threshold, ACCOUNT_LOCKED from
 * the failure that locks), so this route is no oracle past the lockout.
 */
export interface PinChangeServices {
  config: Config;
  database: DatabaseHandle;
}

export interface PinChange {
  current_pin: string;
  new_pin: string;
  end_other_sessions: boolean;
}

/** The failure reason of a wrong current PIN in login_audits and its security event. */
const wrongCurrentPin = 'pin_change_wrong_current';

function attemptServices(services: PinChangeServices): AttemptServices {
  return { db: services.database.db, config: services.config };
}

/** The new PIN's rules need no secret, so they are checked before an attempt is spent. */
function assertNewPinAllowed(change: PinChange): void {
  assertPinPolicy(change.new_pin, 'body.new_pin');
  if (change.new_pin === change.current_pin) {
    throw new AppError('WEAK_PIN', undefined, [
      { field: 'body.new_pin', reason: 'must differ from the current PIN' },
    ]);
  }
}

/**
 * Decides the current PIN under the account's row lock; returns the PIN hash it was verified against.
 * The address is not counted: like the password change, this is a signed-in user re-proving a secret.
 */
export async function verifyCurrentPin(
  services: PinChangeServices,
  context: AuditContext,
  userId: string,
  currentPin: string,
): Promise<string> {
  const attempt: LoginAttempt = { context, userId, loginType: 'user_login', method: 'banking_pin' };
  const read: { pinHash: string | null } = { pinHash: null };
  const decided = await decideAttempt(
    attemptServices(services),
    attempt,
    { userId },
    async (transaction) => {
      // Read under the row lock decideAttempt holds, so a concurrent change is seen.
      read.pinHash = (await findPinCredential(transaction, userId)).pin_hash;
      return read.pinHash !== null && verifyPin(read.pinHash, currentPin, services.config.pinPeppers);
    },
    false,
  );
  if (!decided.right) {
    const locked = await recordFailureAlone(attemptServices(services), decided, wrongCurrentPin);
    throw new AppError(locked ? 'ACCOUNT_LOCKED' : 'INVALID_CREDENTIALS');
  }
  // A right verdict verified a stored hash.
  assert.ok(read.pinHash !== null, 'a right current PIN without a PIN hash');
  return read.pinHash;
}

/** POST /v1/me/pin: returns how many other sessions were ended. */
export async function changePin(
  services: PinChangeServices,
  principal: Principal,
  context: AuditContext,
  change: PinChange,
): Promise<number> {
  // Staff and email accounts hold no PIN: nothing can be guessed, so nothing is counted.
  if (principal.isStaff) throw new AppError('INVALID_CREDENTIALS');
  const user = await withScope(services.database.db, scopeOf(principal), (transaction) =>
    findPinCredential(transaction, principal.userId),
  );
  if (user.pin_hash === null) throw new AppError('INVALID_CREDENTIALS');
  assertNewPinAllowed(change);
  const verifiedHash = await verifyCurrentPin(services, context, user.id, change.current_pin);
  // Hashed outside any lock, as the login does.
  const newPinHash = hashNewPin(services.config, change.new_pin);
  return withScope(services.database.db, scopeOf(principal), async (transaction) => {
    // A concurrent change replaced the PIN since it was verified: the current PIN is no longer it.
    if (!(await updatePin(transaction, user.id, verifiedHash, newPinHash)))
      throw new AppError('INVALID_CREDENTIALS');
    const ended = change.end_other_sessions
      ? await endSessions(transaction, {
          tenantId: principal.tenantId,
          userId: user.id,
          // Migration 0002's logout reasons name one credential change; a PIN change is that.
          reason: 'password_changed',
          exceptSessionId: principal.sessionId,
          context,
        })
      : [];
    await recordAudit(transaction, context, {
      entityType: 'user',
      entityId: user.id,
      action: 'CHANGE_PIN',
      newValues: { credential_changed: 'pin', other_sessions_ended: ended.length },
    });
    await recordCredentialChange(transaction, context, {
      type: 'PIN_CHANGED',
      userId: user.id,
      description: 'The PIN was changed by its owner.',
      details: { via: 'current_pin', other_sessions_ended: ended.length },
    });
    return ended.length;
  });
}
