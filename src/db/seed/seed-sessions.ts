import { randomBytes } from 'node:crypto';
import { v7 as uuidV7 } from 'uuid';
import { hashPin, hashSecretToken } from '../../modules/identity/credential-hashing.ts';
import { hoursAgo, hoursFromNow, type SeedContext, type SeededPeople } from './seed-context.ts';

/**
 * Sessions and their logs, refresh tokens, an expired OTP session, MFA backup codes and a trusted
 * device. Every secret is random and stored only as a keyed hash: seeded sessions cannot be used.
 */
export async function seedSessions(context: SeedContext, people: SeededPeople): Promise<void> {
  const key = context.config.secretTokenKey;
  const [alice] = people.customers;
  if (!alice) throw new Error('seed expects customers');
  for (const [index, device] of (['android', 'web'] as const).entries()) {
    const sessionId = uuidV7();
    await context.transaction
      .insertInto('device_sessions')
      .values({
        tenant_id: context.tenantId,
        id: sessionId,
        user_id: alice.id,
        device_type: device,
        device_id: `seed-device-${index}`,
        device_name: device === 'android' ? 'Pixel 9' : 'Firefox on Linux',
        provider: 'email',
        ip_address: `203.0.113.${10 + index}`,
        user_agent: 'CorebankSeed/1.0',
        expires_at: hoursFromNow(1),
        absolute_expires_at: hoursFromNow(24 * 30),
      })
      .execute();
    const refreshHash = hashSecretToken(randomBytes(32).toString('base64url'), key);
    await context.transaction
      .insertInto('refresh_tokens')
      .values({
        tenant_id: context.tenantId,
        user_id: alice.id,
        session_id: sessionId,
        token_hash: refreshHash,
        expires_at: hoursFromNow(24 * 30),
        ip_address: `203.0.113.${10 + index}`,
      })
      .execute();
    await context.transaction
      .insertInto('session_logs')
      .values({
        tenant_id: context.tenantId,
        event_type: 'CREATED',
        user_id: alice.id,
        session_id: sessionId,
        refresh_token_hash: refreshHash,
        device_info: device,
        ip_address: `203.0.113.${10 + index}`,
        user_agent: 'CorebankSeed/1.0',
      })
      .execute();
  }
  await seedOtpSession(context, alice.phone, alice.name, alice.accountNumber);
  await seedSecondFactor(context, people.superAdminId);
  await seedVerificationTokens(context, alice.id, people.adminId);
}

async function seedVerificationTokens(
  context: SeedContext,
  customerId: string,
  staffId: string,
): Promise<void> {
  const key = context.config.secretTokenKey;
  await context.transaction
    .insertInto('verification_tokens')
    .values([
      {
        tenant_id: context.tenantId,
        user_id: customerId,
        purpose: 'email_verification',
        token_hash: hashSecretToken(randomBytes(32).toString('base64url'), key),
        expires_at: hoursAgo(1),
        used_at: hoursAgo(2),
      },
      {
        tenant_id: context.tenantId,
        user_id: staffId,
        purpose: 'password_reset',
        token_hash: hashSecretToken(randomBytes(32).toString('base64url'), key),
        expires_at: hoursAgo(0.5),
      },
    ])
    .execute();
}

async function seedOtpSession(
  context: SeedContext,
  phone: string,
  name: string,
  accountNumber: string,
): Promise<void> {
  const pepper = context.config.pinPeppers[0];
  if (!pepper) throw new Error('no PIN pepper configured');
  await context.transaction
    .insertInto('otp_sessions')
    .values({
      tenant_id: context.tenantId,
      login_token_hash: hashSecretToken(randomBytes(32).toString('base64url'), context.config.secretTokenKey),
      phone,
      otp_hash: hashSecretToken(randomBytes(8).toString('hex'), context.config.secretTokenKey),
      name,
      account_number: accountNumber,
      mother_name: 'Mother Of Demo',
      pin_hash: hashPin(randomBytes(8).toString('hex'), pepper),
      device_type: 'android',
      device_id: 'seed-device-0',
      device_name: 'Pixel 9',
      expires_at: hoursAgo(1),
      is_used: true,
    })
    .execute();
}

async function seedSecondFactor(context: SeedContext, staffId: string): Promise<void> {
  for (let index = 0; index < 10; index += 1) {
    await context.transaction
      .insertInto('mfa_backup_codes')
      .values({
        tenant_id: context.tenantId,
        user_id: staffId,
        code_hash: hashSecretToken(randomBytes(10).toString('hex'), context.config.secretTokenKey),
      })
      .execute();
  }
  await context.transaction
    .insertInto('trusted_devices')
    .values({
      tenant_id: context.tenantId,
      user_id: staffId,
      device_fingerprint: hashSecretToken('seed-admin-laptop', context.config.secretTokenKey),
      device_name: 'Admin laptop',
      device_type: 'desktop',
      trust_score: 80,
      last_ip_address: '198.51.100.7',
      expires_at: hoursFromNow(24 * 30),
    })
    .execute();
}
