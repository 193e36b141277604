import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { bearer, ensureTenant, type LoggedIn, loginCustomer, loginStaff } from '../helpers/auth.ts';
import { answerCode } from '../helpers/responses.ts';
import { createHarness, type Harness } from '../identity/harness.ts';

/*
 * Issue 10 item 4: incidents opened by hand (or from threats), open → investigating → resolved →
 * closed, with priority, assignment to a staff member, links to threats and events, and every change
 * audited and returned as a timeline.
 */

let harness: Harness;
let admin: LoggedIn & { userId: string };
let tenantId: string;

before(async () => {
  harness = await createHarness();
  tenantId = await ensureTenant(harness.app);
  admin = await loginStaff(harness.app, 'admin');
});

after(async () => {
  await harness.close();
});

const path = '/v1/admin/security/incidents';

function send(
  method: 'POST' | 'PATCH' | 'GET',
  url: string,
  payload?: Record<string, unknown>,
  login: LoggedIn = admin,
) {
  return harness.app.inject({ method, url, headers: bearer(login), ...(payload ? { payload } : {}) });
}

async function threatEvent(): Promise<string> {
  const row = await withScope(harness.database.db, { tenantId }, (transaction) =>
    transaction
      .insertInto('threat_events')
      .values({
        tenant_id: tenantId,
        threat_type: 'brute_force',
        severity: 'high',
        detection_method: 'rule_based',
      })
      .returning('id')
      .executeTakeFirstOrThrow(),
  );
  return row.id;
}

describe('security incidents', () => {
  test('an incident walks open → investigating → resolved → closed, and its timeline shows each step', async () => {
    const threatId = await threatEvent();
    const officer = await loginStaff(harness.app, 'officer');
    const opened = await send('POST', path, {
      incident_type: 'account_takeover',
      severity: 'high',
      title: 'Takeover of a customer account',
      related_threat_ids: [threatId],
    });
    assert.equal(opened.statusCode, 201, opened.body);
    const incident = opened.json() as {
      id: string;
      status: string;
      priority: string;
      related_threat_ids: string[];
    };
    assert.deepEqual(
      [incident.status, incident.priority, incident.related_threat_ids],
      ['open', 'high', [threatId]],
    );
    const url = `${path}/${incident.id}`;
    const assigned = await send('PATCH', url, {
      status: 'investigating',
      assigned_to: officer.userId,
      note: 'Looking',
    });
    assert.equal(assigned.statusCode, 200, assigned.body);
    assert.equal(assigned.json().assigned_to, officer.userId);
    const relinked = await send('PATCH', url, { add_threat_ids: [threatId], priority: 'critical' });
    assert.deepEqual(relinked.json().related_threat_ids, [threatId], 'a link is not duplicated');
    const resolved = await send('PATCH', url, { status: 'resolved' });
    assert.ok(resolved.json().resolved_at, resolved.body);
    const closed = await send('PATCH', url, { status: 'closed' });
    assert.ok(closed.json().closed_at, closed.body);
    const again = await send('PATCH', url, { priority: 'low' });
    assert.equal(again.statusCode, 409, 'a closed incident is final');
    const detail = (await send('GET', url, undefined, officer)).json() as {
      timeline: { action: string; by: string }[];
    };
    assert.deepEqual(
      detail.timeline.map((entry) => entry.action),
      ['open', 'status:investigating', 'update', 'status:resolved', 'status:closed'],
    );
    assert.ok(detail.timeline.every((entry) => entry.by === admin.userId));
  });

  test('a move the lifecycle does not allow is 409 and changes nothing', async () => {
    const opened = (
      await send('POST', path, { incident_type: 'fraud', severity: 'low', title: 'Odd transfers' })
    ).json();
    const skipped = await send('PATCH', `${path}/${opened.id}`, { status: 'closed' });
    assert.equal(skipped.statusCode, 409, skipped.body);
    assert.equal(answerCode(skipped), 'CONFLICT');
    const read = (await send('GET', `${path}/${opened.id}`)).json() as {
      incident: { status: string };
      timeline: unknown[];
    };
    assert.equal(read.incident.status, 'open');
    assert.equal(read.timeline.length, 1);
  });

  test('assignment only to staff of the tenant, links only to rows of the tenant; customers are refused', async () => {
    const customer = await loginCustomer(harness.app);
    const opened = (
      await send('POST', path, { incident_type: 'fraud', severity: 'medium', title: 'Check this' })
    ).json();
    const toCustomer = await send('PATCH', `${path}/${opened.id}`, { assigned_to: customer.userId });
    assert.equal(toCustomer.statusCode, 400, toCustomer.body);
    const unknownThreat = await send('POST', path, {
      incident_type: 'fraud',
      severity: 'medium',
      title: 'Linked to nothing',
      related_threat_ids: ['0190c6a2-0000-7000-8000-000000000000'],
    });
    assert.equal(unknownThreat.statusCode, 400, unknownThreat.body);
    assert.equal((await send('GET', path, undefined, customer)).statusCode, 403);
    assert.equal(
      (await send('POST', path, { incident_type: 'x', severity: 'low', title: 'abc' }, customer)).statusCode,
      403,
    );
    const officer = await loginStaff(harness.app, 'officer');
    const officerWrite = await send(
      'POST',
      path,
      { incident_type: 'x', severity: 'low', title: 'abc' },
      officer,
    );
    assert.equal(officerWrite.statusCode, 403, 'reading is audit:read; writing needs security:manage');
  });

  test('the lists filter by status and severity and page without repeats; threats are listed', async () => {
    for (let index = 0; index < 3; index += 1) {
      await send('POST', path, { incident_type: 'paging', severity: 'critical', title: `Paging ${index}` });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = (
        await send('GET', `${path}?severity=critical&limit=1${cursor ? `&cursor=${cursor}` : ''}`)
      ).json() as {
        incidents: { id: string; severity: string }[];
        next_cursor: string | null;
      };
      assert.ok(page.incidents.every((incident) => incident.severity === 'critical'));
      seen.push(...page.incidents.map((incident) => incident.id));
      cursor = page.next_cursor;
    } while (cursor);
    assert.equal(new Set(seen).size, seen.length);
    assert.ok(seen.length >= 3);
    const threatId = await threatEvent();
    const threats = (await send('GET', '/v1/admin/security/threats?severity=high')).json() as {
      threats: { id: string }[];
    };
    assert.ok(threats.threats.some((threat) => threat.id === threatId));
  });
});
