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
