import { randomInt } from 'node:crypto';
import type { Kysely } from 'kysely';
import { v7 as uuidV7 } from 'uuid';
import { loadConfig } from '../../src/config/config.ts';
import type { MoneyConfig } from '../../src/config/money-config.ts';
import type { Database } from '../../src/db/schema.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import type { AuditContext } from '../../src/platform/audit/audit-trail.ts';
import { permissionsFor, type RoleName } from '../../src/platform/auth/permissions.ts';
import type { Principal } from '../../src/platform/auth/principal.ts';

export function testMoneyConfig(overrides: Partial<MoneyConfig> = {}): MoneyConfig {
  return { ...loadConfig({ NODE_ENV: 'test' }).money, ...overrides };
}

export async function createTenant(db: Kysely<Database>): Promise<string> {
  const id = uuidV7();
  await db
    .insertInto('tenants')
    .values({ id, slug: `money-${id.slice(-12)}`, name: 'Money test tenant' })
    .execute();
  return id;
}

export interface TestCustomer {
  userId: string;
  accountNumber: string;
  walletId: string;
  principal: Principal;
  audit: AuditContext;
}

export async function createCustomer(
  db: Kysely<Database>,
  tenantId: string,
  options: { status?: 0 | 1 | 2; kycTier?: 0 | 1 | 2 } = {},
): Promise<TestCustomer> {
  const userId = uuidV7();
  const accountNumber = String(randomInt(1_000_000_000, 9_999_999_999));
  const walletId = uuidV7();
  await withScope(db, { tenantId }, async (transaction) => {
    await transaction
      .insertInto('users')
      .values({
        tenant_id: tenantId,
        id: userId,
        role: 'customer',
        name: `Customer ${accountNumber}`,
        pin_hash: 'not-a-real-hash',
        status: options.status ?? 1,
        kyc_tier: options.kycTier ?? 2,
      })
      .execute();
    await transaction
      .insertInto('wallets')
      .values({
        tenant_id: tenantId,
        id: walletId,
        user_id: userId,
        asset_code: 'IDR',
        kind: 'customer',
        account_number: accountNumber,
      })
      .execute();
  });
  return {
    userId,
    accountNumber,
    walletId,
    principal: principalFor(tenantId, userId, 'customer'),
    audit: { tenantId, userId },
  };
}

export async function createStaff(
  db: Kysely<Database>,
  tenantId: string,
  role: RoleName,
): Promise<{ principal: Principal; audit: AuditContext }> {
  const userId = uuidV7();
  await withScope(db, { tenantId }, (transaction) =>
    transaction
      .insertInto('users')
      .values({
        tenant_id: tenantId,
        id: userId,
        role,
        name: `Staff ${role}`,
        email: `${userId}@staff.test`,
        password_hash: 'x',
      })
      .execute(),
  );
  return { principal: principalFor(tenantId, userId, role), audit: { tenantId, adminId: userId } };
}

export function principalFor(tenantId: string, userId: string, role: RoleName): Principal {
  return {
    tenantId,
    userId,
    sessionId: uuidV7(),
    role,
    isStaff: role !== 'customer',
    status: 1,
    permissions: permissionsFor(role, []),
  };
}
