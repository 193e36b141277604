import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { checkLedger } from '../../src/modules/ledger/ledger-check.ts';
import { bearer, ensureTenant, type LoggedIn, loginCustomer, loginStaff } from '../helpers/auth.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { answerCode } from '../helpers/responses.ts';

/*
 * Issue 7.6: an admin topped up their own customer account and a fellow staff member's by
 * 200,000,000. Staff may not credit their own or another staff member's account
 * (SEGREGATION_OF_DUTIES), and a staff top-up above the asset's threshold is a pending request (202)
 * that a different staff member holding topups:approve approves (the top-up posts once, through the
 * top-up service) or rejects with a reason; the maker can never decide their own.
 */

const threshold = 10_000;
const config = loadConfig({ NODE_ENV: 'test', STAFF_TOPUP_APPROVAL_THRESHOLDS: `IDR:${threshold},USD:0` });

let database: TestDatabase;
let app: AppInstance;
let tenantId: string;

before(async () => {
  database = await openTestDatabase();
  app = await buildApp({ config, database, logger: false });
  await app.ready();
  tenantId = await ensureTenant(app);
});

after(async () => {
  await app.close();
  await database.close();
});

function post(who: Pick<LoggedIn, 'accessToken'>, url: string, payload: object, key?: string) {
  return app.inject({
    method: 'POST',
    url,
    headers: { ...bearer(who), ...(key ? { 'idempotency-key': key } : {}) },
    payload: payload as Record<string, unknown>,
  });
}

function get(who: Pick<LoggedIn, 'accessToken'>, url: string) {
  return app.inject({ method: 'GET', url, headers: bearer(who) });
}

async function idrBalance(userId: string): Promise<number> {
  const row = await withScope(database.db, { tenantId }, (transaction) =>
    transaction
      .selectFrom('wallets')
      .select('balance')
      .where('user_id', '=', userId)
      .where('asset_code', '=', 'IDR')
      .executeTakeFirst(),
  );
  return row?.balance ?? 0;
}

async function auditActions(entityId: string): Promise<string[]> {
  const rows = await withScope(database.db, { tenantId }, (transaction) =>
    transaction.selectFrom('audit_logs').select('action').where('entity_id', '=', entityId).execute(),
  );
  return rows.map((row) => row.action).sort();
}

interface Approval {
  id: string;
  status: string;
  maker_id: string;
  checker_id: string | null;
  transaction_id: string | null;
  rejection_reason: string | null;
}

describe('regression (issue 7.6): segregation of duties for staff top-ups', () => {
  test('staff cannot credit their own account or another staff member’s, at any amount', async () => {
    const admin = await loginStaff(app, 'admin');
    const colleague = await loginStaff(app, 'manager');
    for (const beneficiary of [admin.userId, colleague.userId]) {
      for (const amount of [1, 200_000_000]) {
        const response = await post(admin, `/v1/admin/users/${beneficiary}/topup`, { amount });
        assert.equal(response.statusCode, 403, response.body);
        assert.equal(answerCode(response), 'SEGREGATION_OF_DUTIES');
      }
      assert.equal(await idrBalance(beneficiary), 0, 'no money reached a staff account');
    }
    const pending = await withScope(database.db, { tenantId }, (transaction) =>
      transaction.selectFrom('topup_approvals').select('id').where('maker_id', '=', admin.userId).execute(),
    );
    assert.deepEqual(pending, [], 'a refused top-up does not become a request either');
  });

  test('up to the threshold a staff top-up posts at once (201); above it, it waits (202) and moves nothing', async () => {
    const admin = await loginStaff(app, 'admin');
    const customer = await loginCustomer(app);
    const small = await post(admin, `/v1/admin/users/${customer.userId}/topup`, { amount: threshold });
    assert.equal(small.statusCode, 201, small.body);
    const large = await post(admin, `/v1/admin/users/${customer.userId}/topup`, { amount: threshold + 1 });
    assert.equal(large.statusCode, 202, large.body);
    const request = large.json() as Approval & { user_id: string; amount: number };
    assert.equal(request.status, 'pending');
    assert.equal(request.maker_id, admin.userId);
    assert.equal(request.user_id, customer.userId);
    assert.equal(request.amount, threshold + 1);
    assert.equal(await idrBalance(customer.userId), threshold, 'the large top-up has not moved money');
    assert.deepEqual(await auditActions(request.id), ['TOPUP_REQUEST']);
    // An asset without a configured threshold (USD: 0) needs approval for any amount.
    const usd = await post(admin, `/v1/admin/users/${customer.userId}/topup`, { amount: 1, asset: 'USD' });
    assert.equal(usd.statusCode, 202, usd.body);
  });

  test('regression (maker–checker split): top-ups split below the threshold wait for a checker once the day’s total passes it, even in parallel', async () => {
    const admin = await loginStaff(app, 'admin');
    const customer = await loginCustomer(app);
    const part = threshold / 4;
    // Ten parallel top-ups of a quarter of the threshold: exactly four post, six wait.
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        post(admin, `/v1/admin/users/${customer.userId}/topup`, { amount: part }),
      ),
    );
    const statuses = answers.map((answer) => answer.statusCode).sort();
    assert.deepEqual(statuses, [201, 201, 201, 201, 202, 202, 202, 202, 202, 202]);
    assert.equal(await idrBalance(customer.userId), threshold);
    // Another staff member's own day is separate.
    const colleague = await loginStaff(app, 'admin');
    const theirs = await post(colleague, `/v1/admin/users/${customer.userId}/topup`, { amount: part });
    assert.equal(theirs.statusCode, 201, theirs.body);
  });

  test('the maker cannot approve; a checker approves once, concurrently and repeatedly, and the top-up posts exactly once', async () => {
    const maker = await loginStaff(app, 'admin');
    const checkers = [await loginStaff(app, 'manager'), await loginStaff(app, 'super_admin')];
    const customer = await loginCustomer(app);
    const amount = threshold * 3;
    const created = await post(maker, `/v1/admin/users/${customer.userId}/topup`, { amount });
    const request = created.json() as Approval;

    const own = await post(maker, `/v1/admin/topup-approvals/${request.id}/approve`, {});
    assert.equal(own.statusCode, 403);
    assert.equal(answerCode(own), 'SEGREGATION_OF_DUTIES');
    const ownReject = await post(maker, `/v1/admin/topup-approvals/${request.id}/reject`, {
      reason: 'my own',
    });
    assert.equal(answerCode(ownReject), 'SEGREGATION_OF_DUTIES');

    const queue = await get(checkers[0] as LoggedIn, '/v1/admin/topup-approvals');
    assert.equal(queue.statusCode, 200, queue.body);
    assert.ok((queue.json() as { approvals: Approval[] }).approvals.some((item) => item.id === request.id));

    const approvals = await Promise.all(
      Array.from({ length: 8 }, (_, index) =>
        post(checkers[index % 2] as LoggedIn, `/v1/admin/topup-approvals/${request.id}/approve`, {}),
      ),
    );
    for (const response of approvals) assert.equal(response.statusCode, 200, response.body);
    const decisions = approvals.map((response) => response.json() as Approval);
    assert.equal(new Set(decisions.map((decision) => decision.transaction_id)).size, 1, 'one movement');
    assert.equal(new Set(decisions.map((decision) => decision.checker_id)).size, 1, 'one checker decided');
    assert.ok(decisions.every((decision) => decision.status === 'approved'));
    assert.equal(await idrBalance(customer.userId), amount, 'credited exactly once');

    const entries = await withScope(database.db, { tenantId }, (transaction) =>
      transaction
        .selectFrom('transactions')
        .select('movement_id')
        .where('user_id', '=', customer.userId)
        .execute(),
    );
    assert.deepEqual(
      entries.map((entry) => entry.movement_id),
      [decisions[0]?.transaction_id],
    );
    assert.deepEqual(await auditActions(request.id), ['TOPUP_APPROVE', 'TOPUP_REQUEST']);
    const late = await post(checkers[0] as LoggedIn, `/v1/admin/topup-approvals/${request.id}/reject`, {
      reason: 'too late',
    });
    assert.equal(late.statusCode, 409);
    assert.equal(answerCode(late), 'TOPUP_APPROVAL_DECIDED');
    assert.equal((await checkLedger(database.db)).problem, undefined);
  });

  test('a checker rejects with a reason: no money moves, and the request cannot be approved after', async () => {
    const maker = await loginStaff(app, 'admin');
    const checker = await loginStaff(app, 'admin');
    const customer = await loginCustomer(app);
    const request = (
      await post(maker, `/v1/admin/users/${customer.userId}/topup`, { amount: threshold * 2 })
    ).json() as Approval;
    const noReason = await post(checker, `/v1/admin/topup-approvals/${request.id}/reject`, {});
    assert.equal(noReason.statusCode, 400);
    const rejected = await post(checker, `/v1/admin/topup-approvals/${request.id}/reject`, {
      reason: 'No matching cash deposit slip',
    });
    assert.equal(rejected.statusCode, 200, rejected.body);
    const decision = rejected.json() as Approval;
    assert.equal(decision.status, 'rejected');
    assert.equal(decision.checker_id, checker.userId);
    assert.equal(decision.rejection_reason, 'No matching cash deposit slip');
    const after = await post(checker, `/v1/admin/topup-approvals/${request.id}/approve`, {});
    assert.equal(answerCode(after), 'TOPUP_APPROVAL_DECIDED');
    assert.equal(await idrBalance(customer.userId), 0);
    assert.deepEqual(await auditActions(request.id), ['TOPUP_REJECT', 'TOPUP_REQUEST']);
    const rejectedList = await get(checker, '/v1/admin/topup-approvals?status=rejected&limit=100');
    assert.ok(
      (rejectedList.json() as { approvals: Approval[] }).approvals.some((item) => item.id === request.id),
    );
  });

  test('the maker’s request is idempotent; only holders of topups:approve see or decide requests', async () => {
    const maker = await loginStaff(app, 'admin');
    const officer = await loginStaff(app, 'officer');
    const customer = await loginCustomer(app);
    const first = await post(
      maker,
      `/v1/admin/users/${customer.userId}/topup`,
      { amount: threshold * 2 },
      'k-1',
    );
    const again = await post(
      maker,
      `/v1/admin/users/${customer.userId}/topup`,
      { amount: threshold * 2 },
      'k-1',
    );
    assert.equal(again.statusCode, 202);
    assert.equal(
      (again.json() as Approval).id,
      (first.json() as Approval).id,
      'the same request, not a second',
    );
    const id = (first.json() as Approval).id;
    for (const who of [officer, customer]) {
      assert.equal((await get(who, '/v1/admin/topup-approvals')).statusCode, 403);
      assert.equal((await post(who, `/v1/admin/topup-approvals/${id}/approve`, {})).statusCode, 403);
    }
  });

  test('an approval that a money rule refuses (KYC limit) leaves the request pending and moves nothing', async () => {
    const maker = await loginStaff(app, 'admin');
    const checker = await loginStaff(app, 'manager');
    const customer = await loginCustomer(app);
    const tierMaximum = config.money.kycTierLimits[0].maximumBalanceMinor;
    const request = (
      await post(maker, `/v1/admin/users/${customer.userId}/topup`, { amount: tierMaximum + 1 })
    ).json() as Approval;
    const refused = await post(checker, `/v1/admin/topup-approvals/${request.id}/approve`, {});
    assert.equal(refused.statusCode, 422, refused.body);
    assert.equal(answerCode(refused), 'KYC_LIMIT_EXCEEDED');
    const view = (await get(checker, `/v1/admin/topup-approvals/${request.id}`)).json() as Approval;
    assert.equal(view.status, 'pending');
    assert.equal(await idrBalance(customer.userId), 0);
  });
});
