import { hoursAgo, type SeedContext, type SeededPeople } from './seed-context.ts';

/** Articles, photos, onboarding screens and the configuration keys seed 000 names. */
export async function seedContent(context: SeedContext, people: SeededPeople): Promise<void> {
  const tenant = { tenant_id: context.tenantId };
  await context.transaction
    .insertInto('articles')
    .values([
      {
        ...tenant,
        title: 'Welcome to Corebank',
        content: 'How to open your account and top up.',
        user_id: people.adminId,
      },
      {
        ...tenant,
        title: 'Keep your PIN safe',
        content: 'Corebank never asks for your PIN or OTP.',
        user_id: people.adminId,
      },
      {
        ...tenant,
        title: 'Archived promotion',
        content: 'This promotion has ended.',
        user_id: people.adminId,
        is_active: false,
      },
    ])
    .execute();
  await context.transaction
    .insertInto('photos')
    .values([
      { ...tenant, image: 'https://cdn.corebank.dev/photos/branch.jpg', user_id: people.adminId },
      { ...tenant, image: 'https://cdn.corebank.dev/photos/atm.jpg', user_id: null },
    ])
    .execute();
  await context.transaction
    .insertInto('onboardings')
    .values([
      {
        ...tenant,
        image: 'https://cdn.corebank.dev/onboarding/1.png',
        title: 'Bank from anywhere',
        description: 'Transfers in seconds.',
      },
      {
        ...tenant,
        image: 'https://cdn.corebank.dev/onboarding/2.png',
        title: 'Safe by design',
        description: 'Two-step login with OTP.',
      },
      {
        ...tenant,
        image: 'https://cdn.corebank.dev/onboarding/3.png',
        title: 'Old screen',
        description: 'Retired.',
        is_active: false,
      },
    ])
    .execute();
  await context.transaction
    .insertInto('configs')
    .values([
      { ...tenant, key: 'tnc', value: 'Terms and conditions of Corebank (development copy).' },
      { ...tenant, key: 'privacy_policy', value: 'Privacy policy of Corebank (development copy).' },
      { ...tenant, key: 'app_version', value: '1.0.0' },
      { ...tenant, key: 'maintenance_mode', value: 'false' },
    ])
    .execute();
  await seedConsents(context, people);
  await seedPrivacy(context, people);
}

/**
 * GDPR (issue 11 item 5): the first customer's earlier data export, expired (its archive dropped), and
 * a legal hold in force on the last customer (their erasure is refused with LEGAL_HOLD_ACTIVE). No
 * customer is erased: an erasure is irreversible, and user_erasures and audit_erasures are written only
 * by one (the GDPR suite covers them).
 */
async function seedPrivacy(context: SeedContext, people: SeededPeople): Promise<void> {
  const first = people.customers[0];
  const last = people.customers.at(-1);
  if (!first || !last) return;
  await context.transaction
    .insertInto('data_exports')
    .values({
      tenant_id: context.tenantId,
      user_id: first.id,
      status: 'expired',
      requested_at: hoursAgo(24 * 10),
      completed_at: hoursAgo(24 * 10),
      expires_at: hoursAgo(24 * 3),
      size_bytes: 18_231,
      sha256: '0'.repeat(64),
    })
    .execute();
  await context.transaction
    .insertInto('legal_holds')
    .values({
      tenant_id: context.tenantId,
      user_id: last.id,
      reason: 'Court order: preserve account records',
      case_reference: 'CASE-2026-0042',
      placed_by: people.adminId,
      placed_at: hoursAgo(48),
    })
    .execute();
}

/**
 * The first customer accepted the documents in force, withdrew marketing and shares data with one
 * recipient (CDR); the others have accepted nothing yet, so their login says consent_required.
 */
async function seedConsents(context: SeedContext, people: SeededPeople): Promise<void> {
  const [first] = people.customers;
  if (!first) return;
  const { termsVersion, privacyPolicyVersion } = context.config.consent;
  const granted = {
    tenant_id: context.tenantId,
    user_id: first.id,
    recipient: null,
    granted_at: hoursAgo(72),
  };
  await context.transaction
    .insertInto('consents')
    .values([
      { ...granted, purpose: 'terms', document_version: termsVersion },
      { ...granted, purpose: 'privacy', document_version: privacyPolicyVersion },
      {
        ...granted,
        purpose: 'marketing',
        document_version: privacyPolicyVersion,
        withdrawn_at: hoursAgo(24),
      },
      {
        ...granted,
        purpose: 'data_sharing',
        document_version: privacyPolicyVersion,
        recipient: 'Budget Buddy Pty Ltd',
      },
    ])
    .execute();
}
