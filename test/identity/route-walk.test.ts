import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { InjectOptions } from 'light-my-request';
import { staffWithoutMfaPermissions } from '../../src/platform/auth/auth-guard.ts';
import { rolePermissions } from '../../src/platform/auth/permissions.ts';
import { ensureTenant, type LoggedIn, loginCustomer, loginStaff } from '../helpers/auth.ts';
import { createHarness, type Harness, secretsNeverLeakTest } from './harness.ts';

let harness: Harness;

before(async () => {
  harness = await createHarness();
  await ensureTenant(harness.app);
});

after(async () => {
  await harness.close();
});

/** Every route that may answer without a token. A route missing here that is public fails the walk. */
const publicRoutes = new Set([
  'GET /.well-known/jwks.json',
  'HEAD /.well-known/jwks.json',
  'POST /v1/auth/banking/login',
  'POST /v1/auth/banking/verify',
  'POST /v1/admin/auth/login',
  'POST /v1/auth/email/login',
  'POST /v1/auth/email/register',
  'POST /v1/auth/email/verify',
  'POST /v1/auth/password/forgot',
  'POST /v1/auth/password/reset',
  'POST /v1/auth/refresh',
  'GET /v1/dev/outbox',
  'HEAD /v1/dev/outbox',
  // The app's settings before sign-in (issue 12 item 4): terms, versions, maintenance.
  'GET /v1/configs/:key',
  'HEAD /v1/configs/:key',
]);

/**
 * Every authenticated principal holds these (a staff member without MFA may still enrol and log out),
 * so no real token can lack them; their 403 half is the only one the walk cannot show.
 */
const universalPermissions = new Set(['sessions:manage_own', 'mfa:manage_own']);

function concreteUrl(url: string): string {
  return url
    .replace(/:id\b/g, '0190a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e')
    .replace(/:[A-Za-z_]+/g, 'x')
    .replace(/\*$/, 'x');
}

function request(method: string, url: string, token?: string): InjectOptions {
  const options: InjectOptions = { method: method as 'GET', url: concreteUrl(url) };
  if (token) options.headers = { authorization: `Bearer ${token}` };
  if (method !== 'GET' && method !== 'HEAD' && method !== 'DELETE') options.payload = {};
  return options;
}

test('every registered non-public route answers 401 without a token and 403 with a token lacking its permission', async () => {
  const { app } = harness;
  const routes = [...app.routePermissions.entries()];
  assert.ok(routes.length > 30, `only ${routes.length} routes were seen`);
  const principals: { name: string; login: LoggedIn; permissions: ReadonlySet<string> }[] = [
    { name: 'customer', login: await loginCustomer(app), permissions: new Set(rolePermissions.customer) },
    {
      name: 'officer',
      login: await loginStaff(app, 'officer'),
      permissions: new Set(rolePermissions.officer),
    },
    {
      name: 'manager',
      login: await loginStaff(app, 'manager'),
      permissions: new Set(rolePermissions.manager),
    },
    { name: 'admin', login: await loginStaff(app, 'admin'), permissions: new Set(rolePermissions.admin) },
    {
      name: 'staff without MFA',
      login: await loginStaff(app, 'super_admin', { withoutMfa: true }),
      permissions: staffWithoutMfaPermissions,
    },
  ];
  const checked: string[] = [];
  const universal: string[] = [];
  for (const [route, permission] of routes) {
    const [method = 'GET', url = '/'] = route.split(' ');
    if (permission === 'public') {
      assert.ok(publicRoutes.has(route), `${route} is public but not in the list of public routes`);
      continue;
    }
    const anonymous = await app.inject(request(method, url));
    assert.equal(anonymous.statusCode, 401, `${route} without a token`);
    const lacking = principals.find((principal) => !principal.permissions.has(permission));
    if (!lacking) {
      universal.push(permission);
      continue;
    }
    const forbidden = await app.inject(request(method, url, lacking.login.accessToken));
    assert.equal(forbidden.statusCode, 403, `${route} (needs ${permission}) with a ${lacking.name} token`);
    checked.push(route);
  }
  assert.ok(checked.length > 10, `only ${checked.length} routes had their 403 checked`);
  for (const permission of universal)
    assert.ok(universalPermissions.has(permission), `no principal lacks ${permission}`);
});

test('public routes are exactly the listed ones and answer without a token', async () => {
  const seen = [...harness.app.routePermissions.entries()]
    .filter(([, permission]) => permission === 'public')
    .map(([route]) => route);
  for (const route of publicRoutes)
    assert.ok(seen.includes(route), `${route} is listed as public but not registered as public`);
  const jwks = await harness.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  assert.equal(jwks.statusCode, 200);
});

test('every identity route in the OpenAPI document has an example response', async () => {
  const response = await harness.app.inject({ method: 'GET', url: '/openapi.json' });
  type Content = Record<string, { example?: unknown; examples?: unknown }>;
  const document = response.json() as {
    paths: Record<
      string,
      Record<string, { tags?: string[]; responses: Record<string, { content?: Content }> }>
    >;
  };
  const identityTags = new Set(['auth', 'sessions', 'profile', 'mfa', 'staff', 'development']);
  const missing: string[] = [];
  let documented = 0;
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      if (!operation.tags?.some((tag) => identityTags.has(tag))) continue;
      documented += 1;
      const success = Object.entries(operation.responses).find(([status]) => status.startsWith('2'));
      if (success?.[0] === '204') continue;
      const media = success?.[1].content?.['application/json'];
      if (media?.example === undefined && media?.examples === undefined)
        missing.push(`${method.toUpperCase()} ${path}`);
    }
  }
  assert.ok(documented >= 30, `only ${documented} identity operations are documented`);
  assert.deepEqual(missing, []);
});

secretsNeverLeakTest(() => harness);
