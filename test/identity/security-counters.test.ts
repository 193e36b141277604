import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { ensureTenant } from '../../src/db/seed/seed.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { reserveCounter } from '../../src/modules/identity/security-counters.repository.ts';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';

/*
 * The windowed counters' Retry-After. A refused reservation answers how long until its window ends;
 * it used to count from now(), the refused transaction's own start, so a request that had started
 * before another opened the window (and then waited for the row) answered more than the window
 * itself: Retry-After 901 for a 900 s window (CI on 82665c8, the lockout-race suite).
 */

let database: TestDatabase;
let tenantId: string;

before(async () => {
  database = await openTestDatabase();
  tenantId = await ensureTenant(database, 'security-counters');
});

after(async () => {
  await database.close();
});

test('regression (CI on 82665c8): a refusal in a transaction older than the window answered a Retry-After longer than the window', {
  // Two transactions at once need a server: the embedded engine runs one at a time.
  skip: testEngine === 'postgres' ? false : 'the embedded engine runs one transaction at a time',
}, async () => {
  const key = { tenantId, scope: 'sms_phone' as const, subjectHash: randomBytes(32).toString('hex') };
  const limit = { max: 1, windowSeconds: 5 };
  const older = withScope(database.db, { tenantId }, async (transaction) => {
    // now() is fixed here, before the window below is opened.
    await sql`select now()`.execute(transaction);
    await sql`select pg_sleep(2.5)`.execute(transaction);
    return reserveCounter(transaction, key, limit);
  });
  await sleep(500);
  const opener = await withScope(database.db, { tenantId }, (transaction) =>
    reserveCounter(transaction, key, limit),
  );
  assert.equal(opener.granted, true);
  const refused = await older;
  assert.equal(refused.granted, false);
  assert.ok(!refused.granted && refused.retryAfterSeconds <= limit.windowSeconds, JSON.stringify(refused));
  assert.ok(!refused.granted && refused.retryAfterSeconds >= 1);
});
