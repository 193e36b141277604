import { sql } from 'kysely';
import type { Config } from '../../config/config.ts';
import { sealPendingAudits } from '../../platform/audit/audit-sealer.ts';
import { syncRolePermissions } from '../../platform/auth/role-permission-sync.ts';
import type { DatabaseHandle } from '../database.ts';
import { refreshStatistics } from '../database-status.ts';
import { withScope } from '../tenant-transaction.ts';
import { seedContent } from './seed-content.ts';
import type { DemoCredential, SeedContext } from './seed-context.ts';
import { seedMoney } from './seed-money.ts';
import { demoCredentials, seedPeople } from './seed-people.ts';
import { seedSecurity } from './seed-security.ts';
import { seedSessions } from './seed-sessions.ts';

const seedVersion = '1';
const seedMarkerKey = 'seed_version';

export interface SeedResult {
  seeded: boolean;
  tenantId: string;
  credentials: DemoCredential[];
}

export class SeedRefusedError extends Error {
  constructor() {
    super('refusing to seed demo data in production; pass --force if you really mean it');
    this.name = 'SeedRefusedError';
  }
}

/**
 * Fills every table with development data in one transaction, so a failure leaves nothing behind.
 * Idempotent: a tenant that carries the seed marker is left as it is.
 */
export async function seedDatabase(
  handle: DatabaseHandle,
  config: Config,
  options: { force?: boolean; onStep?: (step: string) => void } = {},
): Promise<SeedResult> {
  if (config.environment === 'production' && !options.force) throw new SeedRefusedError();
  const tenantId = await ensureTenant(handle, config.defaultTenantSlug);
  await syncRolePermissions(handle);
  const already = await withScope(handle.db, { tenantId }, (transaction) =>
    transaction.selectFrom('configs').select('value').where('key', '=', seedMarkerKey).executeTakeFirst(),
  );
  if (already) return { seeded: false, tenantId, credentials: demoCredentials() };

  const credentials = await withScope(handle.db, { tenantId }, async (transaction) => {
    const context: SeedContext = {
      transaction,
      tenantId,
      config,
      audit: { tenantId, requestId: 'seed', method: 'CLI', endpoint: 'corebank db seed' },
    };
    const step = options.onStep ?? (() => {});
    step('people');
    const { people, credentials: demo } = await seedPeople(context);
    step('money');
    await seedMoney(context, people);
    step('sessions');
    await seedSessions(context, people);
    step('content');
    await seedContent(context, people);
    step('security');
    await seedSecurity(context, people);
    await transaction
      .insertInto('configs')
      .values({ tenant_id: tenantId, key: seedMarkerKey, value: seedVersion })
      .execute();
    return demo;
  });
  while (
    (await sealPendingAudits(handle.db, { key: config.auditHmacKey, keyId: config.auditHmacKeyId })) > 0
  ) {}
  // So that `db status` estimates the seeded rows at once (the embedded engine has no autovacuum).
  await refreshStatistics(handle.db);
  return { seeded: true, tenantId, credentials };
}

/**
 * What a newcomer needs after a development seed: every demo login and where the API documentation is.
 * Printed by `corebank db seed` and by a development server that seeds, never logged as a log line.
 */
export function demoDataLines(credentials: readonly DemoCredential[], docsUrl: string): string[] {
  return [
    'Demo credentials (development seed; a PIN or password changed since no longer matches):',
    ...credentials.map(
      (credential) =>
        `  ${credential.role.padEnd(22)} ${credential.login.padEnd(40)} ${credential.secret}  (${credential.note})`,
    ),
    `API documentation: ${docsUrl}`,
  ];
}

/** The default tenant exists on every database the server starts on; creating it is idempotent. */
export async function ensureTenant(handle: DatabaseHandle, slug: string): Promise<string> {
  await sql`insert into tenants (slug, name) values (${slug}, ${slug === 'default' ? 'Default tenant' : slug})
            on conflict (slug) do nothing`.execute(handle.db);
  const tenant = await handle.db
    .selectFrom('tenants')
    .select('id')
    .where('slug', '=', slug)
    .executeTakeFirstOrThrow();
  return tenant.id;
}
