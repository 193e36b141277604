import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { adaptiveLimit, trustMultiplier } from '../../src/modules/rate-limits/trust-multipliers.ts';
import { bearer, type LoggedInCustomer, loginCustomer } from '../helpers/auth.ts';
import { createHarness, type Harness } from '../identity/harness.ts';

/*
 * Issue 10 item 6, adaptive limits: the per-user limit is RATE_LIMIT_USER_REQUESTS_MAX times a
 * multiplier from the user's trust score (2× from 80, 1× from 50, 0.5× from 20, 0.25× below).
 */

let harness: Harness;

before(async () => {
  harness = await createHarness({ RATE_LIMIT_USER_REQUESTS_MAX: '10' });
});

after(async () => {
  await harness.close();
});

async function withTrust(score: number): Promise<LoggedInCustomer> {
  const customer = await loginCustomer(harness.app);
  await withScope(harness.database.db, { tenantId: customer.tenantId }, (transaction) =>
    transaction.updateTable('users').set({ trust_score: score }).where('id', '=', customer.userId).execute(),
  );
  return customer;
}

async function burst(customer: LoggedInCustomer, count: number) {
  // The first request reads the score in the background; the burst counts at the user's multiplier.
  await harness.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(customer) });
  await sleep(100);
  const statuses: number[] = [];
  let limit: string | undefined;
  for (let index = 0; index < count; index += 1) {
    const answer = await harness.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(customer) });
    statuses.push(answer.statusCode);
    limit ??= String(answer.headers['ratelimit-limit']);
  }
  return { allowed: 1 + statuses.filter((status) => status === 200).length, limit };
}

describe('adaptive per-user limits', () => {
  test('the multiplier follows the trust score, and the limit never drops below one request', () => {
    assert.deepEqual(
      [100, 80, 79, 50, 49, 20, 19, 0].map(trustMultiplier),
      [2, 2, 1, 1, 0.5, 0.5, 0.25, 0.25],
    );
    assert.equal(adaptiveLimit(10, 0.25), 2);
    assert.equal(adaptiveLimit(1, 0.25), 1);
  });

  test('a trusted user gets twice the base, a default user the base, a distrusted user a quarter', async () => {
    const trusted = await burst(await withTrust(90), 25);
    const ordinary = await burst(await withTrust(50), 25);
    const distrusted = await burst(await withTrust(10), 25);
    assert.deepEqual(
      [trusted.allowed, ordinary.allowed, distrusted.allowed],
      [20, 10, 2],
      JSON.stringify({ trusted, ordinary, distrusted }),
    );
    assert.deepEqual([trusted.limit, ordinary.limit, distrusted.limit], ['20', '10', '2']);
  });
});
