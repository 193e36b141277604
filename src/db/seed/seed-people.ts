import { v7 as uuidV7 } from 'uuid';
import { hashPassword, hashPin } from '../../modules/identity/credential-hashing.ts';
import { recordAudit } from '../../platform/audit/audit-trail.ts';
import type { DemoCredential, SeedContext, SeededCustomer, SeededPeople } from './seed-context.ts';

export const demoPin = '123456';

const staff = [
  {
    role: 'super_admin',
    name: 'Super Administrator',
    email: 'superadmin@corebank.dev',
    password: 'Corebank-Super-Admin-2026',
  },
  {
    role: 'admin',
    name: 'Operations Administrator',
    email: 'admin@corebank.dev',
    password: 'Corebank-Admin-Demo-2026',
  },
  {
    role: 'manager',
    name: 'Branch Manager Demo',
    email: 'manager@corebank.dev',
    password: 'Corebank-Manager-Demo-2026',
  },
  {
    role: 'officer',
    name: 'Compliance Officer Demo',
    email: 'officer@corebank.dev',
    password: 'Corebank-Officer-Demo-2026',
  },
] as const;

// Every user status (0 inactive, 1 active, 2 blocked) and every KYC tier appear at least once.
const customers = [
  {
    name: 'Alice Wijaya',
    phone: '081234567801',
    account: '1234567801',
    status: 1,
    tier: 2,
    email: 'alice@example.com',
  },
  { name: 'Budi Santoso', phone: '081234567802', account: '1234567802', status: 1, tier: 1, email: null },
  { name: 'Citra Lestari', phone: '081234567803', account: '1234567803', status: 1, tier: 0, email: null },
  { name: 'Dewi Anggraini', phone: '081234567804', account: '1234567804', status: 2, tier: 1, email: null },
  { name: 'Eko Prasetyo', phone: '081234567805', account: '1234567805', status: 0, tier: 0, email: null },
  { name: 'Fajar Nugroho', phone: '081234567806', account: '1234567806', status: 1, tier: 0, email: null },
] as const;

/**
 * The logins the seed creates. They are fixed, published development values (never used outside a
 * development seed), so `corebank db seed` can show them again on a database seeded earlier.
 */
export function demoCredentials(): DemoCredential[] {
  return [
    ...staff.map((member) => ({
      role: member.role,
      login: member.email,
      secret: member.password,
      note: 'POST /v1/admin/auth/login (then enrol TOTP)',
    })),
    ...customers.map((customer) => ({
      role: `customer (status ${customer.status})`,
      login: `${customer.phone} / account ${customer.account}`,
      secret: `PIN ${demoPin}`,
      note: 'POST /v1/auth/banking/login, mother name "Mother Of Demo"',
    })),
  ];
}

export async function seedPeople(
  context: SeedContext,
): Promise<{ people: SeededPeople; credentials: DemoCredential[] }> {
  const staffIds = await seedStaff(context);
  const seededCustomers: SeededCustomer[] = [];
  for (const customer of customers) {
    seededCustomers.push(await seedCustomer(context, customer));
  }
  const credentials = demoCredentials();
  return {
    people: {
      superAdminId: staffIds.get('super_admin') ?? '',
      adminId: staffIds.get('admin') ?? '',
      officerId: staffIds.get('officer') ?? '',
      customers: seededCustomers,
    },
    credentials,
  };
}

async function seedStaff(context: SeedContext): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const member of staff) {
    const id = uuidV7();
    ids.set(member.role, id);
    await context.transaction
      .insertInto('users')
      .values({
        tenant_id: context.tenantId,
        id,
        role: member.role,
        email: member.email,
        username: member.email.split('@')[0] ?? member.email,
        name: member.name,
        first_name: member.name.split(' ')[0] ?? null,
        last_name: member.name.split(' ').slice(1).join(' ') || null,
        password_hash: await hashPassword(member.password),
        password_changed_at: new Date(),
        password_expires_at: new Date(Date.now() + 90 * 86_400_000),
        is_verified: true,
        email_verified_at: new Date(),
        permissions: member.role === 'officer' ? ['kyc:review'] : [],
      })
      .execute();
    await seedProfile(context, id, ['staff', member.role]);
    await recordAudit(
      context.transaction,
      { ...context.audit, adminId: id },
      {
        entityType: 'user',
        entityId: id,
        action: 'CREATE',
        newValues: { role: member.role, email: member.email, password: member.password },
      },
    );
  }
  return ids;
}

async function seedCustomer(
  context: SeedContext,
  customer: (typeof customers)[number],
): Promise<SeededCustomer> {
  const id = uuidV7();
  const pepper = context.config.pinPeppers[0];
  if (!pepper) throw new Error('no PIN pepper configured');
  await context.transaction
    .insertInto('users')
    .values({
      tenant_id: context.tenantId,
      id,
      role: 'customer',
      name: customer.name,
      phone: customer.phone,
      email: customer.email,
      mother_name: 'Mother Of Demo',
      pin_hash: hashPin(demoPin, pepper),
      status: customer.status,
      kyc_tier: customer.tier,
      is_verified: customer.email !== null,
      last_login_at: customer.status === 0 ? null : new Date(),
    })
    .execute();
  await seedProfile(context, id, ['customer', `tier-${customer.tier}`]);
  await recordAudit(
    context.transaction,
    { ...context.audit, userId: id },
    {
      entityType: 'user',
      entityId: id,
      action: 'CREATE',
      newValues: { name: customer.name, phone: customer.phone, pin: demoPin },
    },
  );
  return {
    id,
    name: customer.name,
    phone: customer.phone,
    accountNumber: customer.account,
    status: customer.status,
    walletId: '',
  };
}

async function seedProfile(context: SeedContext, userId: string, tags: string[]): Promise<void> {
  await context.transaction
    .insertInto('user_profiles')
    .values({
      tenant_id: context.tenantId,
      user_id: userId,
      tags,
      metadata: JSON.stringify({ locale: 'id-ID', marketing_opt_in: false }),
    })
    .execute();
}
