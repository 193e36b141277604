// Invariants as assertions (issue 9): the security samples name the seed's first two customers; a seed
// run without them is a broken seed, and it stops with an AssertionError before writing anything.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { SeedContext } from './seed-context.ts';
import { seedSecurity } from './seed-security.ts';

it('seedSecurity without the two seeded customers is an AssertionError and touches no table', async () => {
  const untouchable = new Proxy(
    {},
    {
      get() {
        throw new Error('the transaction was used');
      },
    },
  );
  const context = {
    transaction: untouchable,
    tenantId: 't',
    config: {},
    audit: {},
  } as unknown as SeedContext;
  const people = { superAdminId: 's', adminId: 'a', officerId: 'o', customers: [] };
  await assert.rejects(
    seedSecurity(context, people),
    (error: unknown) => error instanceof assert.AssertionError && /two seeded customers/.test(error.message),
  );
});
