import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { createLogger } from '../../src/platform/logger.ts';
import {
  bearer,
  ensureTenant,
  fullBankingLogin,
  type LoggedInCustomer,
  loginCustomer,
  loginStaff,
  registerEmailCustomer,
} from '../helpers/auth.ts';
import { createHarness, type Harness, secretsNeverLeakTest } from './harness.ts';

/*
 * Consent (issue 11 item 6): a customer accepts the current terms and privacy policy, grants and
 * withdraws marketing and data sharing with a named recipient; every grant is kept with its timestamps
 * and document version; a login says which documents are still to accept, so publishing a new version
 * makes every customer accept it again; row-level security keeps each customer to their own rows.
 */

let harness: Harness;
let tenantId: string;
// Each check of a login's answer sends one more OTP to the same phone.
const environment = { SMS_SENDS_PER_PHONE_MAX: '20' };

before(async () => {
  harness = await createHarness(environment);
  tenantId = await ensureTenant(harness.app);
});

after(async () => {
  await harness.close();
});

type Consent = {
  id: string;
  purpose: string;
  document_version: string;
  recipient: string | null;
  status: string;
  granted_at: string;
  withdrawn_at: string | null;
  superseded_at: string | null;
};
type Consents = {
  consent_required: boolean;
  required_documents: { purpose: string; version: string }[];
  in_force: Consent[];
  history: Consent[];
  history_truncated: boolean;
};

function readConsents(customer: LoggedInCustomer, app: AppInstance = harness.app) {
  return app.inject({ method: 'GET', url: '/v1/me/consents', headers: bearer(customer) });
}

function postConsent(customer: LoggedInCustomer, payload: unknown, app: AppInstance = harness.app) {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return app.inject({
    method: 'POST',
    url: '/v1/me/consents',
    headers: { ...bearer(customer), 'content-type': 'application/json' },
    payload: body,
  });
}

/** The banking login of an existing customer, returning the verify response's body. */
async function bankingLogin(app: AppInstance, customer: LoggedInCustomer): Promise<Record<string, unknown>> {
  const verify = await fullBankingLogin(app, customer);
  assert.equal(verify.statusCode, 200, verify.body);
  return verify.json() as Record<string, unknown>;
}

/** Everything written about a user's consents: their rows and the audit rows about them. */
async function written(userId: string) {
  return withScope(harness.database.db, { tenantId }, async (transaction) => ({
    consents: await transaction
      .selectFrom('consents')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .execute(),
    audits: await transaction
      .selectFrom('audit_logs')
      .select(['action', 'entity_id', 'new_values'])
      .where('user_id', '=', userId)
      .where('entity_type', '=', 'consent')
      .orderBy('created_at')
      .execute(),
  }));
}

async function acceptCurrentDocuments(customer: LoggedInCustomer, app: AppInstance = harness.app) {
  for (const document of (await readConsents(customer, app)).json().required_documents as {
    purpose: string;
    version: string;
  }[]) {
    const accepted = await postConsent(
      customer,
      { purpose: document.purpose, action: 'grant', version: document.version },
      app,
    );
    assert.equal(accepted.statusCode, 200, accepted.body);
  }
}

describe('consents', () => {
  test('a new customer is told at login to accept the terms and privacy policy, and no longer once accepted', async () => {
    const customer = await loginCustomer(harness.app);
    const first = await bankingLogin(harness.app, customer);
    assert.equal(first.consent_required, true);
    assert.deepEqual(first.required_documents, [
      { purpose: 'terms', version: '1' },
      { purpose: 'privacy', version: '1' },
    ]);
    const before = (await readConsents(customer)).json() as Consents;
    assert.equal(before.consent_required, true);
    assert.deepEqual(before.in_force, []);
    const terms = await postConsent(customer, { purpose: 'terms', action: 'grant', version: '1' });
    assert.equal(terms.statusCode, 200, terms.body);
    assert.equal(terms.json().changed, true);
    assert.equal(terms.json().consent.status, 'in_force');
    const halfway = await bankingLogin(harness.app, customer);
    assert.deepEqual(halfway.required_documents, [{ purpose: 'privacy', version: '1' }]);
    await postConsent(customer, { purpose: 'privacy', action: 'grant', version: '1' });
    const after = await bankingLogin(harness.app, customer);
    assert.equal(after.consent_required, false);
    assert.deepEqual(after.required_documents, []);
    const { audits } = await written(customer.userId);
    assert.deepEqual(
      audits.map((row) => [row.action, (row.new_values as { purpose: string }).purpose]),
      [
        ['GRANT', 'terms'],
        ['GRANT', 'privacy'],
      ],
    );
  });

  test('the email login says consent_required too; a staff login carries no consent fields', async () => {
    const password = 'a long and unusual consent passphrase';
    harness.secrets.add(password);
    const { email } = await registerEmailCustomer(harness.app, password);
    const login = await harness.app.inject({
      method: 'POST',
      url: '/v1/auth/email/login',
      payload: { email, password },
    });
    assert.equal(login.statusCode, 200, login.body);
    assert.equal(login.json().consent_required, true);
    assert.equal(login.json().required_documents.length, 2);
    await loginStaff(harness.app, 'officer');
    const staffLogin = harness.responses.findLast((response) => response.url === '/v1/admin/auth/login');
    assert.ok(staffLogin, 'the staff login answered');
    assert.ok(staffLogin.body.includes('access_token'), staffLogin.body);
    assert.ok(!staffLogin.body.includes('consent_required'), staffLogin.body);
  });

  test('marketing: grant, withdraw, grant again; the history keeps every grant with its timestamps', async () => {
    const customer = await loginCustomer(harness.app);
    const granted = await postConsent(customer, { purpose: 'marketing', action: 'grant' });
    assert.equal(granted.statusCode, 200, granted.body);
    // Marketing is granted under the privacy policy in force (PRIVACY_POLICY_VERSION).
    assert.equal(granted.json().consent.document_version, '1');
    const again = await postConsent(customer, { purpose: 'marketing', action: 'grant' });
    assert.equal(again.json().changed, false, 'a repeated grant writes nothing');
    assert.equal(again.json().consent.id, granted.json().consent.id);
    const withdrawn = await postConsent(customer, { purpose: 'marketing', action: 'withdraw' });
    assert.equal(withdrawn.statusCode, 200, withdrawn.body);
    assert.equal(withdrawn.json().consent.status, 'withdrawn');
    const regranted = await postConsent(customer, { purpose: 'marketing', action: 'grant' });
    assert.equal(regranted.json().changed, true);
    assert.notEqual(regranted.json().consent.id, granted.json().consent.id);

    const state = (await readConsents(customer)).json() as Consents;
    assert.deepEqual(
      state.in_force.map((consent) => consent.id),
      [regranted.json().consent.id],
    );
    const marketing = state.history.filter((consent) => consent.purpose === 'marketing');
    assert.deepEqual(
      marketing.map((consent) => consent.status),
      ['in_force', 'withdrawn'],
    );
    const [latest, earlier] = marketing as [Consent, Consent];
    assert.ok(earlier.withdrawn_at !== null && earlier.withdrawn_at >= earlier.granted_at);
    assert.ok(latest.granted_at >= earlier.withdrawn_at);
    assert.equal(state.history_truncated, false);
    const { audits } = await written(customer.userId);
    assert.deepEqual(
      audits.map((row) => row.action),
      ['GRANT', 'WITHDRAW', 'GRANT'],
    );
  });

  test('concurrent grants of one purpose leave exactly one grant in force and one audit row', async () => {
    const customer = await loginCustomer(harness.app);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => postConsent(customer, { purpose: 'marketing', action: 'grant' })),
    );
    assert.deepEqual(
      answers.map((answer) => answer.statusCode),
      [200, 200, 200, 200, 200, 200],
    );
    assert.equal(answers.filter((answer) => answer.json().changed === true).length, 1);
    const { consents, audits } = await written(customer.userId);
    assert.equal(consents.length, 1);
    assert.equal(audits.length, 1);
  });

  test('data sharing names its recipient; recipients are separate and matched without case', async () => {
    const customer = await loginCustomer(harness.app);
    const budget = { purpose: 'data_sharing', action: 'grant', recipient: 'Budget Buddy Pty Ltd' };
    assert.equal((await postConsent(customer, budget)).statusCode, 200);
    const other = { purpose: 'data_sharing', action: 'grant', recipient: 'Loan Finder' };
    assert.equal((await postConsent(customer, other)).statusCode, 200);
    const sameAgain = await postConsent(customer, { ...budget, recipient: 'budget buddy pty ltd' });
    assert.equal(sameAgain.json().changed, false);
    const withdrawn = await postConsent(customer, {
      purpose: 'data_sharing',
      action: 'withdraw',
      recipient: 'LOAN FINDER',
    });
    assert.equal(withdrawn.statusCode, 200, withdrawn.body);
    assert.equal(withdrawn.json().consent.recipient, 'Loan Finder');
    const state = (await readConsents(customer)).json() as Consents;
    assert.deepEqual(
      state.in_force.map((consent) => consent.recipient),
      ['Budget Buddy Pty Ltd'],
    );
    const none = await postConsent(customer, {
      purpose: 'data_sharing',
      action: 'withdraw',
      recipient: 'Loan Finder',
    });
    assert.equal(none.statusCode, 404, none.body);
  });

  test('regression (review): a recipient whose letters JavaScript and PostgreSQL lower differently ("İ", final "Σ") is found again: a repeat grant was 500 and a withdrawal 404', async () => {
    const customer = await loginCustomer(harness.app);
    for (const recipient of ['İSTANBUL Bank', 'ΣΑΣ Finance']) {
      const grant = { purpose: 'data_sharing', action: 'grant', recipient };
      assert.equal((await postConsent(customer, grant)).statusCode, 200);
      const again = await postConsent(customer, grant);
      assert.equal(again.statusCode, 200, again.body);
      assert.equal(again.json().changed, false);
      const withdrawn = await postConsent(customer, { ...grant, action: 'withdraw' });
      assert.equal(withdrawn.statusCode, 200, withdrawn.body);
    }
    const state = (await readConsents(customer)).json() as Consents;
    assert.deepEqual(
      state.in_force.filter((consent) => consent.recipient),
      [],
    );
  });

  test('at most 20 data recipients are in force at once; the 21st is refused and writes nothing', async () => {
    const customer = await loginCustomer(harness.app);
    for (let index = 1; index <= 20; index += 1) {
      const granted = await postConsent(customer, {
        purpose: 'data_sharing',
        action: 'grant',
        recipient: `Recipient ${index}`,
      });
      assert.equal(granted.statusCode, 200, granted.body);
    }
    const before = await written(customer.userId);
    const refused = await postConsent(customer, {
      purpose: 'data_sharing',
      action: 'grant',
      recipient: 'Recipient 21',
    });
    assert.equal(refused.statusCode, 409, refused.body);
    assert.equal(refused.json().error.code, 'CONFLICT');
    assert.deepEqual(await written(customer.userId), before);
    const state = (await readConsents(customer)).json() as Consents;
    assert.equal(state.in_force.length, 20);
  });

  test('the history is the newest 100 grants, and an old grant still in force is in the current view', async () => {
    const customer = await loginCustomer(harness.app);
    await acceptCurrentDocuments(customer);
    // 105 later marketing grants, each withdrawn: far more history than one answer carries.
    await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction
        .insertInto('consents')
        .values(
          Array.from({ length: 105 }, (_, index) => ({
            tenant_id: tenantId,
            user_id: customer.userId,
            purpose: 'marketing' as const,
            document_version: '1',
            granted_at: new Date(Date.now() + (index + 1) * 60_000),
            withdrawn_at: new Date(Date.now() + (index + 1) * 60_000 + 1000),
          })),
        )
        .execute(),
    );
    const state = (await readConsents(customer)).json() as Consents;
    assert.equal(state.history.length, 100);
    assert.equal(state.history_truncated, true);
    assert.ok(state.history.every((consent) => consent.purpose === 'marketing'));
    const times = state.history.map((consent) => consent.granted_at);
    assert.deepEqual(times, [...times].sort().reverse(), 'newest first');
    assert.deepEqual(state.in_force.map((consent) => consent.purpose).sort(), ['privacy', 'terms']);
    assert.equal(state.consent_required, false);
  });

  test('accepting a version that is not the current one is refused with CONSENT_VERSION_NOT_CURRENT and writes nothing', async () => {
    const customer = await loginCustomer(harness.app);
    const before = await written(customer.userId);
    for (const version of ['0', '2', '1.0']) {
      const refused = await postConsent(customer, { purpose: 'terms', action: 'grant', version });
      assert.equal(refused.statusCode, 409, refused.body);
      const { error } = refused.json() as { error: { code: string; details: { field: string }[] } };
      assert.equal(error.code, 'CONSENT_VERSION_NOT_CURRENT');
      assert.equal(error.details[0]?.field, 'body.version');
    }
    const withdrawTerms = await postConsent(customer, { purpose: 'terms', action: 'withdraw' });
    assert.equal(withdrawTerms.statusCode, 409);
    assert.equal(withdrawTerms.json().error.code, 'CONSENT_NOT_WITHDRAWABLE');
    assert.deepEqual(await written(customer.userId), before);
  });

  test('a new TERMS_VERSION makes login say consent is required until the customer accepts it', async () => {
    const customer = await loginCustomer(harness.app);
    await acceptCurrentDocuments(customer);
    assert.equal((await bankingLogin(harness.app, customer)).consent_required, false);
    // The operator publishes terms version 2: a server with TERMS_VERSION=2 on the same database.
    const config = loadConfig({
      NODE_ENV: 'test',
      LOGIN_IP_FAILURES_MAX: '100000',
      ...environment,
      TERMS_VERSION: '2026-12-07',
    });
    const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    const published = await buildApp({
      config,
      database: harness.database,
      logger: createLogger(config, sink),
    });
    await published.ready();
    try {
      const login = await bankingLogin(published, customer);
      assert.equal(login.consent_required, true);
      // The published server signs its own access tokens (the test configuration's keys are its own).
      const signedIn = { ...customer, accessToken: login.access_token as string };
      assert.deepEqual(login.required_documents, [{ purpose: 'terms', version: '2026-12-07' }]);
      const old = await postConsent(signedIn, { purpose: 'terms', action: 'grant', version: '1' }, published);
      assert.equal(old.statusCode, 409);
      assert.equal(old.json().error.code, 'CONSENT_VERSION_NOT_CURRENT');
      const accepted = await postConsent(
        signedIn,
        { purpose: 'terms', action: 'grant', version: '2026-12-07' },
        published,
      );
      assert.equal(accepted.statusCode, 200, accepted.body);
      assert.equal((await bankingLogin(published, customer)).consent_required, false);
      const state = (await readConsents(signedIn, published)).json() as Consents;
      const terms = state.history.filter((consent) => consent.purpose === 'terms');
      assert.deepEqual(
        terms.map((consent) => [consent.document_version, consent.status]),
        [
          ['2026-12-07', 'in_force'],
          ['1', 'superseded'],
        ],
      );
    } finally {
      await published.close();
    }
    // Back on version 1, the customer's version-1 acceptance was superseded: they must accept 1 again.
    assert.equal((await bankingLogin(harness.app, customer)).consent_required, true);
  });

  test('bad input (NUL, lone surrogate, long recipient, unknown purpose, misplaced fields) is 400 in the one error shape and writes nothing', async () => {
    const customer = await loginCustomer(harness.app);
    const before = await written(customer.userId);
    const bodies: unknown[] = [
      { purpose: 'data_sharing', action: 'grant', recipient: 'Budget\u0000Buddy' },
      '{"purpose":"data_sharing","action":"grant","recipient":"Budget \\ud800 Buddy"}',
      { purpose: 'data_sharing', action: 'grant', recipient: 'x'.repeat(101) },
      { purpose: 'data_sharing', action: 'grant', recipient: ' padded ' },
      { purpose: 'data_sharing', action: 'grant', recipient: 'line\nbreak' },
      // regression (review): C1 controls passed the schema and failed the column's CHECK (500).
      { purpose: 'data_sharing', action: 'grant', recipient: 'A\u0085B' },
      { purpose: 'data_sharing', action: 'grant', recipient: 'Bank \u202eevil' },
      { purpose: 'data_sharing', action: 'grant', recipient: 'Bank\u2028Two' },
      { purpose: 'data_sharing', action: 'grant' },
      { purpose: 'profiling', action: 'grant' },
      { purpose: 'marketing', action: 'revoke' },
      { purpose: 'marketing', action: 'grant', version: '1' },
      { purpose: 'marketing', action: 'grant', recipient: 'Somebody' },
      { purpose: 'terms', action: 'grant' },
      { purpose: 'terms', action: 'grant', version: 'x'.repeat(33) },
      { purpose: 'terms', action: 'grant', version: '../1' },
      { purpose: 'marketing', action: 'grant', user_id: customer.userId },
      { purpose: 'marketing' },
    ];
    for (const body of bodies) {
      const refused = await postConsent(customer, body);
      assert.equal(refused.statusCode, 400, `${JSON.stringify(body)}: ${refused.body}`);
      const { error } = refused.json() as { error: { code: string; message: string; request_id: string } };
      assert.equal(error.code, 'VALIDATION_FAILED', refused.body);
      assert.ok(error.message && error.request_id, refused.body);
    }
    assert.deepEqual(await written(customer.userId), before);
  });

  test('a customer reads only their own consents, even through the database role (row-level security)', async () => {
    const alice = await loginCustomer(harness.app);
    const bob = await loginCustomer(harness.app);
    await postConsent(alice, { purpose: 'marketing', action: 'grant' });
    await postConsent(alice, { purpose: 'data_sharing', action: 'grant', recipient: 'Budget Buddy' });
    const bobs = (await readConsents(bob)).json() as Consents;
    assert.deepEqual(bobs.history, []);
    const seen = await withScope(harness.database.db, { tenantId, userId: bob.userId }, (transaction) =>
      transaction.selectFrom('consents').select('id').where('user_id', '=', alice.userId).execute(),
    );
    assert.deepEqual(seen, [], 'RLS, not only the WHERE clause, hides Alice’s rows from Bob');
    const asTenant = await withScope(harness.database.db, { tenantId }, (transaction) =>
      transaction.selectFrom('consents').select('id').where('user_id', '=', alice.userId).execute(),
    );
    assert.equal(asTenant.length, 2, 'the tenant scope (staff) sees them');
    await assert.rejects(
      withScope(harness.database.db, { tenantId, userId: bob.userId }, (transaction) =>
        transaction
          .insertInto('consents')
          .values({ tenant_id: tenantId, user_id: alice.userId, purpose: 'marketing', document_version: '1' })
          .execute(),
      ),
      /row-level security/,
      'Bob cannot write a consent for Alice',
    );
  });

  test('the database keeps the history: a grant changes only by its one end, and is never deleted', async () => {
    const customer = await loginCustomer(harness.app);
    const granted = await postConsent(customer, { purpose: 'marketing', action: 'grant' });
    const id = granted.json().consent.id as string;
    const scope = { tenantId, userId: customer.userId };
    await assert.rejects(
      withScope(harness.database.db, scope, (transaction) =>
        transaction.updateTable('consents').set({ document_version: '9' }).where('id', '=', id).execute(),
      ),
      /changes only once/,
    );
    await assert.rejects(
      withScope(harness.database.db, scope, (transaction) =>
        transaction.deleteFrom('consents').where('id', '=', id).execute(),
      ),
      /permission denied/,
    );
    await postConsent(customer, { purpose: 'marketing', action: 'withdraw' });
    await assert.rejects(
      withScope(harness.database.db, scope, (transaction) =>
        sql`update consents set withdrawn_at = null where id = ${id}`.execute(transaction),
      ),
      /changes only once/,
    );
  });
});

secretsNeverLeakTest(() => harness);
