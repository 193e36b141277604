import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { bearer, type LoggedIn, loginCustomer, loginStaff } from '../helpers/auth.ts';
import { createHarness, type Harness } from '../identity/harness.ts';

/* Issue 10 item 1: every 403 and every rejected bearer token is a security event; other refusals are not. */

let harness: Harness;
let analyst: LoggedIn;

before(async () => {
  harness = await createHarness({ ACCESS_LOG_FLUSH_INTERVAL_MS: '20' });
  analyst = await loginStaff(harness.app, 'officer');
});

after(async () => {
  await harness.close();
});

async function events(
  query: string,
): Promise<{ user_id: string | null; target_resource: string; ip_address: string }[]> {
  for (let attempt = 0; ; attempt += 1) {
    const page = await harness.app.inject({
      method: 'GET',
      url: `/v1/admin/security/events?${query}`,
      headers: bearer(analyst),
    });
    const items = (
      page.json() as { items: { user_id: string | null; target_resource: string; ip_address: string }[] }
    ).items;
    if (items.length > 0 || attempt > 60) return items;
    await sleep(30);
  }
}

test('a 403 becomes an AUTHORIZATION_DENIED event naming the user and the route', async () => {
  const customer = await loginCustomer(harness.app);
  const refused = await harness.app.inject({
    method: 'GET',
    url: '/v1/admin/audit-logs',
    headers: bearer(customer),
  });
  assert.equal(refused.statusCode, 403);
  const found = await events(`event_type=AUTHORIZATION_DENIED&user_id=${customer.userId}`);
  assert.equal(found.length, 1);
  assert.equal(found[0]?.target_resource, 'GET /v1/admin/audit-logs');
});

test('a rejected bearer token is an ACCESS_TOKEN_REJECTED event; a request without a token is not', async () => {
  const address = '198.51.100.77';
  const forged = await harness.app.inject({
    method: 'GET',
    url: '/v1/me',
    remoteAddress: address,
    headers: { authorization: 'Bearer not-a-token' },
  });
  assert.equal(forged.statusCode, 401);
  const bare = await harness.app.inject({ method: 'GET', url: '/v1/me', remoteAddress: '198.51.100.78' });
  assert.equal(bare.statusCode, 401);
  const found = await events(`event_type=ACCESS_TOKEN_REJECTED&ip=${address}`);
  assert.equal(found.length, 1);
  await sleep(200);
  assert.equal((await events('event_type=ACCESS_TOKEN_REJECTED&ip=198.51.100.78')).length, 0);
});
