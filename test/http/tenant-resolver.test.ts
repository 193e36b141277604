import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { AppError } from '../../src/platform/errors.ts';
import { forgetCachedTenants, resolveTenantId } from '../../src/platform/tenant-resolver.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';

const config = loadConfig({ NODE_ENV: 'test', DEFAULT_TENANT_SLUG: 'resolver-default' });

let database: TestDatabase;
let app: AppInstance;
let defaultTenantId: string;

async function createTenant(slug: string, status: 'active' | 'suspended' = 'active'): Promise<string> {
  const row = await database.db
    .insertInto('tenants')
    .values({ slug, name: `Tenant ${slug}`, status })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

function headers(tenantId?: string) {
  return { headers: tenantId === undefined ? {} : { 'x-tenant-id': tenantId } };
}

function isTenantNotFound(error: unknown): boolean {
  return error instanceof AppError && error.code === 'TENANT_NOT_FOUND';
}

function isTenantSuspended(error: unknown): boolean {
  return error instanceof AppError && error.code === 'TENANT_SUSPENDED';
}

before(async () => {
  database = await openTestDatabase();
  defaultTenantId = await createTenant('resolver-default');
  app = await buildApp({ config, database, logger: false });
  app.get('/test/tenant', { config: { permission: 'public' } }, async (request) => ({
    tenant_id: await resolveTenantId(app, request),
  }));
  await app.ready();
});

after(async () => {
  await app.close();
  await database.close();
});

describe('resolveTenantId', () => {
  test('without x-tenant-id the configured default tenant is used', async () => {
    assert.equal(await resolveTenantId(app, headers()), defaultTenantId);
  });

  test('x-tenant-id naming an active tenant selects it, in any letter case', async () => {
    const tenantId = await createTenant('resolver-active');
    assert.equal(await resolveTenantId(app, headers(tenantId)), tenantId);
    assert.equal(await resolveTenantId(app, headers(tenantId.toUpperCase())), tenantId);
  });

  test('a suspended tenant is TENANT_SUSPENDED (issue 7.4), the code its tokens get at the guard', async () => {
    const suspendedId = await createTenant('resolver-suspended', 'suspended');
    await assert.rejects(resolveTenantId(app, headers(suspendedId)), isTenantSuspended);
  });

  test('an unknown or malformed tenant id is TENANT_NOT_FOUND', async () => {
    await assert.rejects(
      resolveTenantId(app, headers('0190a5c2-7d1e-7b3c-9f00-000000000000')),
      isTenantNotFound,
    );
    await assert.rejects(resolveTenantId(app, headers("1' or '1'='1")), isTenantNotFound);
    await assert.rejects(resolveTenantId(app, headers('')), isTenantNotFound);
  });

  test('a missing default tenant is TENANT_NOT_FOUND', async () => {
    const elsewhere = { database, config: { defaultTenantSlug: 'no-such-tenant' } };
    await assert.rejects(resolveTenantId(elsewhere, headers()), isTenantNotFound);
  });

  test('a lookup is cached until forgotten, so a suspension needs forgetCachedTenants to apply at once', async () => {
    const tenantId = await createTenant('resolver-cached');
    assert.equal(await resolveTenantId(app, headers(tenantId)), tenantId);
    await database.db
      .updateTable('tenants')
      .set({ status: 'suspended' })
      .where('id', '=', tenantId)
      .execute();
    assert.equal(await resolveTenantId(app, headers(tenantId)), tenantId, 'the lookup was not cached');
    forgetCachedTenants(database);
    await assert.rejects(resolveTenantId(app, headers(tenantId)), isTenantSuspended);
  });

  test('a miss is not cached: a tenant created after a failed lookup resolves at once', async () => {
    const elsewhere = { database, config: { defaultTenantSlug: 'resolver-late' } };
    await assert.rejects(resolveTenantId(elsewhere, headers()), isTenantNotFound);
    const tenantId = await createTenant('resolver-late');
    assert.equal(await resolveTenantId(elsewhere, headers()), tenantId);
  });

  test('over HTTP an unknown tenant answers 400 TENANT_NOT_FOUND in the error shape', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/test/tenant',
      headers: { 'x-tenant-id': 'nope' },
    });
    assert.equal(response.statusCode, 400);
    const body = response.json() as { error: { code: string; details?: { field?: string }[] } };
    assert.equal(body.error.code, 'TENANT_NOT_FOUND');
    assert.equal(body.error.details?.[0]?.field, 'headers.x-tenant-id');
    const ok = await app.inject({ method: 'GET', url: '/test/tenant' });
    assert.deepEqual(ok.json(), { tenant_id: defaultTenantId });
  });
});
