import type { Config } from '../../config/config.ts';
import { type ScopedTransaction, withScope } from '../../db/tenant-transaction.ts';
import type { AuditContext } from '../../platform/audit/audit-trail.ts';
import type { SendLimit } from '../../platform/auth/authentication-config.ts';
import { AppError } from '../../platform/errors.ts';
import { type AttemptServices, assertTenantActive, counterSubjectHash } from './login-attempts.ts';
import { type CounterScope, reserveCounter } from './security-counters.repository.ts';

/**
 * Send limits (issue 7.5): an unauthenticated request may make Corebank send an SMS (banking login
 * OTP) or an email (registration, password reset). Each send first takes a unit of its recipient's
 * counter and of the client address's counter, both in one transaction (all or nothing), so a flood
 * gets at most the limit whichever server process it reaches. A refusal is 429 RATE_LIMITED with
 * Retry-After.
 *
 * A counter is taken for an address whether or not it has an account (the reset form of an unknown
 * email counts like a known one), so a 429 never tells which addresses exist.
 */
async function take(
  transaction: ScopedTransaction,
  config: Config,
  tenantId: string,
  counter: { scope: CounterScope; kind: string; value: string; limit: SendLimit },
): Promise<void> {
  const taken = await reserveCounter(
    transaction,
    { tenantId, scope: counter.scope, subjectHash: counterSubjectHash(config, counter.kind, counter.value) },
    { max: counter.limit.max, windowSeconds: counter.limit.windowMinutes * 60 },
  );
  if (!taken.granted) {
    // Thrown inside the transaction, so a unit already taken from the other counter is given back.
    throw new AppError('RATE_LIMITED', 'Too many messages were requested; try again later.', undefined, {
      retryAfterSeconds: taken.retryAfterSeconds,
    });
  }
}

async function reserveSend(
  services: AttemptServices,
  context: AuditContext,
  recipient: { scope: CounterScope; kind: string; value: string; limit: SendLimit },
): Promise<void> {
  const { config } = services;
  await withScope(services.db, { tenantId: context.tenantId }, async (transaction) => {
    await assertTenantActive(transaction, context.tenantId);
    await take(transaction, config, context.tenantId, recipient);
    if (context.ipAddress) {
      await take(transaction, config, context.tenantId, {
        scope: 'message_address',
        kind: 'address',
        value: context.ipAddress,
        limit: config.authentication.sendLimits.messagesPerClientAddress,
      });
    }
  });
}

/** One OTP SMS to this phone, counted against the phone and the client address. */
export async function reserveSmsSend(
  services: AttemptServices,
  context: AuditContext,
  phone: string,
): Promise<void> {
  await reserveSend(services, context, {
    scope: 'sms_phone',
    kind: 'phone',
    value: phone,
    limit: services.config.authentication.sendLimits.smsPerPhone,
  });
}

/** One email to this address, counted against the address and the client address. */
export async function reserveEmailSend(
  services: AttemptServices,
  context: AuditContext,
  email: string,
): Promise<void> {
  await reserveSend(services, context, {
    scope: 'email_address',
    kind: 'email',
    value: email.toLowerCase(),
    limit: services.config.authentication.sendLimits.emailsPerAddress,
  });
}
