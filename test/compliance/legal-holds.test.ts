import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { heldUserIds, userHasLegalHold } from '../../src/modules/legal-holds/legal-holds.repository.ts';
import { bearer, ensureTenant, type LoggedIn, loginCustomer, loginStaff } from '../helpers/auth.ts';
import { answerCode } from '../helpers/responses.ts';
import { createHarness, type Harness } from '../identity/harness.ts';

/*
 * Issue 11: legal holds preserve one customer's data against retention and erasure. Staff with
 * compliance:manage place and release them; a hold is in force until released or expired, is released
 * once, and keeps its history (no delete, no other change).
 */

let harness: Harness;
let admin: LoggedIn;

before(async () => {
  harness = await createHarness();
  admin = await loginStaff(harness.app, 'admin');
});

after(async () => {
  await harness.close();
});

function request(method: 'GET' | 'POST', url: string, who: LoggedIn, payload?: Record<string, unknown>) {
  return harness.app.inject({ method, url, headers: bearer(who), ...(payload ? { payload } : {}) });
}

const place = (who: LoggedIn, payload: Record<string, unknown>) =>
  request('POST', '/v1/admin/legal-holds', who, payload);

function inForce(userId: string) {
  return withScope(harness.database.db, { tenantId: admin.tenantId }, async (transaction) => ({
    listed: (await heldUserIds(transaction, new Date())).includes(userId),
    held: await userHasLegalHold(transaction, userId, new Date()),
  }));
}

describe('legal holds', () => {
  test('a placed hold is in force until released; a second release is 409 LEGAL_HOLD_RELEASED', async () => {
    const customer = await loginCustomer(harness.app);
    assert.deepEqual(await inForce(customer.userId), { listed: false, held: false });
    const placed = await place(admin, {
      user_id: customer.userId,
      reason: 'Court order',
      case_reference: 'C-1',
    });
    assert.equal(placed.statusCode, 201, placed.body);
    const hold = placed.json();
    assert.equal(hold.in_force, true);
    assert.equal(hold.placed_by, admin.userId);
    assert.deepEqual(await inForce(customer.userId), { listed: true, held: true });

    const listed = await request(
      'GET',
      `/v1/admin/legal-holds?user_id=${customer.userId}&in_force=true`,
      admin,
    );
    assert.deepEqual(
      listed.json().legal_holds.map((row: { id: string }) => row.id),
      [hold.id],
    );

    const release = () =>
      request('POST', `/v1/admin/legal-holds/${hold.id}/release`, admin, { reason: 'Case closed' });
    const [first, second] = await Promise.all([release(), release()]);
    const codes = [first?.statusCode, second?.statusCode].sort();
    assert.deepEqual(codes, [200, 409], 'two concurrent releases: one releases, the other is refused');
    const refused = first?.statusCode === 409 ? first : second;
    assert.equal(answerCode(refused), 'LEGAL_HOLD_RELEASED');
    assert.deepEqual(await inForce(customer.userId), { listed: false, held: false });
    const audit = await withScope(harness.database.db, { tenantId: admin.tenantId }, (transaction) =>
      transaction
        .selectFrom('audit_logs')
        .select('action')
        .where('entity_id', '=', hold.id)
        .orderBy('created_at')
        .execute(),
    );
    assert.deepEqual(
      audit.map((row) => row.action),
      ['LEGAL_HOLD_PLACE', 'LEGAL_HOLD_RELEASE'],
    );
  });

  test('an expired hold is no longer in force', async () => {
    const customer = await loginCustomer(harness.app);
    const placed = await place(admin, {
      user_id: customer.userId,
      reason: 'Short preservation',
      expires_at: new Date(Date.now() + 60_000).toISOString(),
    });
    assert.equal(placed.statusCode, 201, placed.body);
    const later = new Date(Date.now() + 120_000);
    const held = await withScope(harness.database.db, { tenantId: admin.tenantId }, async (transaction) => ({
      now: await userHasLegalHold(transaction, customer.userId, new Date()),
      later: await userHasLegalHold(transaction, customer.userId, later),
      listedLater: (await heldUserIds(transaction, later)).includes(customer.userId),
    }));
    assert.deepEqual(held, { now: true, later: false, listedLater: false });
  });

  test('bad input is 400 naming the field and writes nothing; an unknown customer is 404', async () => {
    const customer = await loginCustomer(harness.app);
    const cases: [Record<string, unknown>, string][] = [
      [{ user_id: customer.userId, reason: 'no' }, 'reason'],
      [{ user_id: customer.userId, reason: 'x'.repeat(501) }, 'reason'],
      [{ user_id: customer.userId, reason: 'Court \u0000 order' }, 'reason'],
      [{ user_id: customer.userId, reason: 'Court \ud800 order' }, 'reason'],
      [{ user_id: customer.userId, reason: 'Court order', expires_at: '2020-01-01T00:00:00Z' }, 'expires_at'],
      [
        { user_id: customer.userId, reason: 'Court order', case_reference: 'x'.repeat(101) },
        'case_reference',
      ],
      [{ user_id: 'not-a-uuid', reason: 'Court order' }, 'user_id'],
      [{ user_id: customer.userId, reason: 'Court order', extra: 1 }, 'extra'],
    ];
    for (const [payload, field] of cases) {
      const answer = await place(admin, payload);
      assert.equal(answer.statusCode, 400, `${field}: ${answer.body}`);
      assert.match(answer.body, new RegExp(field));
    }
    assert.deepEqual(await inForce(customer.userId), { listed: false, held: false });
    const unknown = await place(admin, {
      user_id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d6e',
      reason: 'Court order',
    });
    assert.equal(answerCode(unknown), 'NOT_FOUND');
    const staffTarget = await place(admin, { user_id: admin.userId, reason: 'Court order' });
    assert.equal(answerCode(staffTarget), 'NOT_FOUND', 'a hold is on a customer');
  });

  test('a customer and a manager may not place or list holds (403)', async () => {
    const customer = await loginCustomer(harness.app);
    const manager = await loginStaff(harness.app, 'manager');
    for (const who of [customer, manager]) {
      assert.equal((await place(who, { user_id: customer.userId, reason: 'Court order' })).statusCode, 403);
      assert.equal((await request('GET', '/v1/admin/legal-holds', who)).statusCode, 403);
    }
    assert.deepEqual(await inForce(customer.userId), { listed: false, held: false });
  });

  test('a hold keeps its history: the database refuses a delete and any change but the release', async () => {
    const customer = await loginCustomer(harness.app);
    const hold = (await place(admin, { user_id: customer.userId, reason: 'Court order' })).json();
    const attempt = (statement: ReturnType<typeof sql>) =>
      withScope(harness.database.db, { tenantId: admin.tenantId }, (transaction) =>
        statement.execute(transaction),
      ).then(
        () => 'done',
        () => 'refused',
      );
    assert.equal(await attempt(sql`delete from legal_holds where id = ${hold.id}`), 'refused');
    assert.equal(
      await attempt(sql`update legal_holds set reason = 'changed' where id = ${hold.id}`),
      'refused',
    );
    assert.deepEqual(await inForce(customer.userId), { listed: true, held: true });
  });

  test("one tenant's holds are invisible to another tenant's staff", async () => {
    const customer = await loginCustomer(harness.app);
    const hold = (await place(admin, { user_id: customer.userId, reason: 'Court order' })).json();
    const otherTenant = await ensureTenant(harness.app, `other-${Date.now()}`);
    const otherAdmin = await loginStaff(harness.app, 'admin', { tenantId: otherTenant });
    const listed = await request('GET', '/v1/admin/legal-holds', otherAdmin);
    assert.equal(listed.statusCode, 200);
    assert.equal(
      listed.json().legal_holds.some((row: { id: string }) => row.id === hold.id),
      false,
    );
    const release = await request('POST', `/v1/admin/legal-holds/${hold.id}/release`, otherAdmin, {
      reason: 'Nope',
    });
    assert.equal(answerCode(release), 'NOT_FOUND');
  });
});
