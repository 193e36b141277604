import assert from 'node:assert/strict';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/config.ts';
import type { Severity } from '../../src/db/schema.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { alertSignature } from '../../src/modules/alerts/alert-sinks.ts';
import { runAlertDeliveries } from '../../src/modules/alerts/alerts.service.ts';
import {
  bearer,
  ensureTenant,
  type LoggedIn,
  loginCustomer,
  loginStaff,
  randomAccountNumber,
  randomPhone,
  testMotherName,
  testPin,
} from '../helpers/auth.ts';
import { answerCode } from '../helpers/responses.ts';
import { createHarness, type Harness } from '../identity/harness.ts';

/*
 * Issue 10 item 9 (alerts): critical security events — and high or critical threat events — go to
 * the log and to a webhook, signed with HMAC-SHA256 over `${timestamp}.${body}`, through an outbox
 * (alert_deliveries) that retries with backoff and ends in a dead letter staff can list and retry.
 * The receiver here is a real HTTP server on a free port; the job is run by hand, as the scheduler would.
 */

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

const secret = randomBytes(32).toString('base64url');
const received: Received[] = [];
/** The statuses the receiver answers, in order; 200 once they run out. */
let answers: number[] = [];
let receiver: Server;
let harness: Harness;
let admin: LoggedIn;
let tenantId: string;

before(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.statusCode = answers.shift() ?? 200;
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.address() as AddressInfo;
  harness = await createHarness({
    ALERT_WEBHOOK_URL: `http://127.0.0.1:${port}/corebank-alerts`,
    ALERT_WEBHOOK_SECRET: secret,
    ALERT_WEBHOOK_ATTEMPTS_MAX: '3',
    ALERT_WEBHOOK_BACKOFF_BASE_MS: '1',
    ALERT_WEBHOOK_TIMEOUT_MS: '2000',
  });
  harness.secrets.add(secret);
  tenantId = await ensureTenant(harness.app);
  admin = await loginStaff(harness.app, 'admin');
});

after(async () => {
  await harness.close();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

function runJob() {
  return runAlertDeliveries({
    db: harness.database.db,
    config: harness.config.security.alerts,
    logger: harness.app.log,
    metrics: harness.app.metrics,
  });
}

/** Runs the job until nothing is due any more or `runs` runs have passed, waiting out the tiny backoff. */
async function runJobTimes(runs: number): Promise<void> {
  for (let run = 0; run < runs; run += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    await runJob();
  }
}

async function securityEvent(severity: Severity, eventType = 'TEST_ALERT_EVENT'): Promise<string> {
  const row = await withScope(harness.database.db, { tenantId }, (transaction) =>
    transaction
      .insertInto('security_events')
      .values({
        tenant_id: tenantId,
        event_type: eventType,
        event_category: 'threat',
        severity,
        ip_address: '203.0.113.77',
        description: `a ${severity} test event`,
        details: JSON.stringify({ note: 'never sent' }),
      })
      .returning('id')
      .executeTakeFirstOrThrow(),
  );
  return row.id;
}

async function threatEvent(severity: Severity): Promise<string> {
  const row = await withScope(harness.database.db, { tenantId }, (transaction) =>
    transaction
      .insertInto('threat_events')
      .values({
        tenant_id: tenantId,
        threat_type: 'brute_force',
        severity,
        detection_method: 'rule_based',
        indicators: ['ip:203.0.113.78'],
      })
      .returning('id')
      .executeTakeFirstOrThrow(),
  );
  return row.id;
}

interface AlertBody {
  id: string;
  tenant_id: string;
  event: { source: string; id: string; type: string; severity: string; occurred_at: string };
}

const bodyOf = (request: Received) => JSON.parse(request.body) as AlertBody;
const sentFor = (eventId: string) => received.filter((request) => bodyOf(request).event.id === eventId);

async function deliveriesOf(eventId: string) {
  return withScope(harness.database.db, { tenantId }, (transaction) =>
    transaction
      .selectFrom('alert_deliveries')
      .select(['id', 'sink', 'status', 'attempts', 'last_error'])
      .where('event_id', '=', eventId)
      .orderBy('sink')
      .execute(),
  );
}

/** The receiver's check, as docs/security.md describes it: fresh timestamp, constant-time compare. */
function verifies(request: Received, key: string): boolean {
  const timestamp = String(request.headers['x-corebank-timestamp']);
  const signature = String(request.headers['x-corebank-signature']);
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const expected = createHmac('sha256', key).update(`${timestamp}.${request.body}`).digest();
  const given = Buffer.from(signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function bankingLogin(remoteAddress: string) {
  return harness.app.inject({
    method: 'POST',
    url: '/v1/auth/banking/login',
    remoteAddress,
    payload: {
      name: 'Alert Test',
      phone: randomPhone(),
      account_number: randomAccountNumber(),
      mother_name: testMotherName,
      pin: testPin,
      device: { type: 'android', id: `device-${Date.now()}`, name: 'Phone' },
    },
  });
}

async function addIndicator(ip: string, severity: Severity): Promise<void> {
  const created = await harness.app.inject({
    method: 'POST',
    url: '/v1/admin/security/indicators',
    headers: bearer(admin),
    payload: { indicator_type: 'ip', indicator_value: ip, threat_type: 'botnet', severity },
  });
  assert.equal(created.statusCode, 201, created.body);
}

async function eventIdFor(ip: string): Promise<{ id: string; severity: string }> {
  const row = await withScope(harness.database.db, { tenantId }, (transaction) =>
    transaction
      .selectFrom('security_events')
      .select(['id', 'severity'])
      .where('tenant_id', '=', tenantId)
      .where('ip_address', '=', ip)
      .where('event_type', '=', 'THREAT_INTEL_MATCH')
      .executeTakeFirstOrThrow(),
  );
  return row;
}

describe('alerts', () => {
  test('a critical event provoked over HTTP reaches the webhook once, correctly signed, and the log once; a wrong secret does not verify', async () => {
    await addIndicator('198.51.100.66', 'critical');
    const refused = await bankingLogin('198.51.100.66');
    assert.equal(refused.statusCode, 403, refused.body);
    const event = await eventIdFor('198.51.100.66');
    assert.equal(event.severity, 'critical');
    await runJob();
    const sent = sentFor(event.id);
    assert.equal(sent.length, 1, 'the webhook got the alert once');
    const [request] = sent;
    assert.ok(request);
    assert.ok(verifies(request, secret), 'the signature verifies with the shared secret');
    assert.equal(verifies(request, `${secret}x`), false, 'a wrong secret does not verify');
    assert.equal(
      verifies({ ...request, body: `${request.body} ` }, secret),
      false,
      'a changed body does not',
    );
    assert.equal(
      request.headers['x-corebank-signature'],
      alertSignature(secret, String(request.headers['x-corebank-timestamp']), request.body),
    );
    assert.match(String(request.headers['content-type']), /^application\/json/);
    const body = bodyOf(request);
    assert.deepEqual(
      [body.tenant_id, body.event.source, body.event.type, body.event.severity],
      [tenantId, 'security_event', 'THREAT_INTEL_MATCH', 'critical'],
    );
    assert.equal(request.headers['x-corebank-delivery'], body.id);
    assert.equal(request.body.includes('indicator_value'), false, 'the event details are not sent');
    const logged = harness.logLines.filter(
      (line) => line.includes('"msg":"security alert"') && line.includes(event.id),
    );
    assert.equal(logged.length, 1, 'one warn line per alert');
    assert.equal(JSON.parse(logged[0] ?? '{}').level, 40);
    assert.deepEqual(
      (await deliveriesOf(event.id)).map((row) => [row.sink, row.status, row.attempts]),
      [
        ['log', 'delivered', 1],
        ['webhook', 'delivered', 1],
      ],
    );
    await runJobTimes(2);
    assert.equal(sentFor(event.id).length, 1, 'a delivered alert is not sent again');
  });

  test('a medium event is not alerted, nor a medium threat event; a high threat event is', async () => {
    await addIndicator('198.51.100.67', 'medium');
    const allowed = await bankingLogin('198.51.100.67');
    assert.equal(allowed.statusCode, 200, allowed.body);
    const medium = await eventIdFor('198.51.100.67');
    assert.equal(medium.severity, 'medium');
    const high = await securityEvent('high');
    const quietThreat = await threatEvent('medium');
    const loudThreat = await threatEvent('high');
    await runJob();
    for (const id of [medium.id, high, quietThreat]) {
      assert.deepEqual(sentFor(id), [], 'not sent');
      assert.deepEqual(await deliveriesOf(id), [], 'not queued');
    }
    const threat = sentFor(loudThreat);
    assert.equal(threat.length, 1);
    assert.deepEqual(
      [bodyOf(threat[0] as Received).event.source, bodyOf(threat[0] as Received).event.severity],
      ['threat_event', 'high'],
    );
  });

  test('a sink that answers 500 and then 200 is retried with backoff and finally delivered', async () => {
    const before = await metricValue('webhook', 'retry');
    answers = [500];
    const eventId = await securityEvent('critical');
    await runJob();
    let [, webhook] = await deliveriesOf(eventId);
    assert.deepEqual(
      [webhook?.status, webhook?.attempts, webhook?.last_error],
      ['pending', 1, 'the sink answered HTTP 500'],
    );
    await runJobTimes(1);
    [, webhook] = await deliveriesOf(eventId);
    assert.deepEqual([webhook?.status, webhook?.attempts, webhook?.last_error], ['delivered', 2, null]);
    const sent = sentFor(eventId);
    assert.equal(sent.length, 2);
    assert.equal(bodyOf(sent[0] as Received).id, bodyOf(sent[1] as Received).id, 'one delivery id');
    assert.ok(sent.every((request) => verifies(request, secret)));
    assert.equal(await metricValue('webhook', 'retry'), before + 1);
  });

  test('a sink that always fails ends in a dead letter after the configured attempts; staff list and retry it', async () => {
    answers = [500, 503, 502];
    const eventId = await securityEvent('critical');
    await runJobTimes(5);
    assert.equal(sentFor(eventId).length, 3, 'ALERT_WEBHOOK_ATTEMPTS_MAX=3 tries, then no more');
    const [, webhook] = await deliveriesOf(eventId);
    assert.deepEqual(
      [webhook?.status, webhook?.attempts, webhook?.last_error],
      ['dead', 3, 'the sink answered HTTP 502'],
    );
    const listed = await harness.app.inject({
      method: 'GET',
      url: '/v1/admin/security/alerts?status=dead',
      headers: bearer(admin),
    });
    assert.equal(listed.statusCode, 200, listed.body);
    const alerts = (listed.json() as { alerts: { id: string; event_id: string; status: string }[] }).alerts;
    assert.ok(alerts.every((alert) => alert.status === 'dead'));
    const dead = alerts.find((alert) => alert.event_id === eventId);
    assert.ok(dead, 'the dead letter is listed');
    assert.equal(await metricValue('webhook', 'dead'), 1);

    const customer = await loginCustomer(harness.app);
    const forbidden = await harness.app.inject({
      method: 'POST',
      url: `/v1/admin/security/alerts/${dead.id}/retry`,
      headers: bearer(customer),
    });
    assert.equal(forbidden.statusCode, 403);
    // 40 retries of one dead letter at once: exactly one revives it, the others are 409.
    const burst = await Promise.all(
      Array.from({ length: 40 }, () =>
        harness.app.inject({
          method: 'POST',
          url: `/v1/admin/security/alerts/${dead.id}/retry`,
          headers: bearer(admin),
        }),
      ),
    );
    const retried = burst.filter((answer) => answer.statusCode === 200);
    assert.equal(retried.length, 1, burst.map((answer) => answer.statusCode).join(','));
    assert.deepEqual([retried[0]?.json().status, retried[0]?.json().attempts], ['pending', 0]);
    for (const again of burst.filter((answer) => answer.statusCode !== 200))
      assert.deepEqual([again.statusCode, answerCode(again)], [409, 'CONFLICT']);
    for (const url of [
      '/v1/admin/security/alerts/not-a-uuid/retry',
      '/v1/admin/security/alerts/%00/retry',
      '/v1/admin/security/alerts/%ED%A0%80/retry',
    ]) {
      const bad = await harness.app.inject({ method: 'POST', url, headers: bearer(admin) });
      assert.equal(bad.statusCode, 400, `${url}: ${bad.body}`);
    }
    for (const query of [
      'status=gone',
      'limit=0',
      'limit=100000000000000000000',
      'sink=%00',
      'cursor=%ED%A0%80',
    ]) {
      const bad = await harness.app.inject({
        method: 'GET',
        url: `/v1/admin/security/alerts?${query}`,
        headers: bearer(admin),
      });
      assert.equal(bad.statusCode, 400, `${query}: ${bad.body}`);
    }
    const unknown = await harness.app.inject({
      method: 'POST',
      url: '/v1/admin/security/alerts/0190a000-0000-7000-8000-000000000000/retry',
      headers: bearer(admin),
    });
    assert.equal(unknown.statusCode, 404);
    await runJob();
    const [, revived] = await deliveriesOf(eventId);
    assert.deepEqual([revived?.status, revived?.attempts], ['delivered', 1]);
    const deadAfter = await harness.app.inject({
      method: 'GET',
      url: '/v1/admin/security/alerts?status=dead',
      headers: bearer(admin),
    });
    assert.equal(
      (deadAfter.json() as { alerts: { id: string }[] }).alerts.some((alert) => alert.id === dead.id),
      false,
    );
  });

  test('two job runs at once (two server processes) queue and send each alert once', async () => {
    answers = [];
    const eventIds = await Promise.all([1, 2, 3, 4, 5].map(() => securityEvent('critical')));
    await Promise.all([runJob(), runJob(), runJob()]);
    for (const eventId of eventIds) {
      assert.equal(sentFor(eventId).length, 1, 'one POST per alert');
      assert.equal(
        harness.logLines.filter((line) => line.includes('"msg":"security alert"') && line.includes(eventId))
          .length,
        1,
        'one log line per alert',
      );
      assert.deepEqual(
        (await deliveriesOf(eventId)).map((row) => [row.sink, row.status, row.attempts]),
        [
          ['log', 'delivered', 1],
          ['webhook', 'delivered', 1],
        ],
      );
    }
  });

  test('/metrics counts alert deliveries by sink and outcome', async () => {
    const metrics = await harness.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /corebank_alert_deliveries_total\{sink="webhook",outcome="delivered"\} [1-9]/);
    assert.match(metrics.body, /corebank_alert_deliveries_total\{sink="log",outcome="delivered"\} [1-9]/);
    assert.match(metrics.body, /corebank_alert_deliveries_total\{sink="webhook",outcome="dead"\} 1/);
  });

  test('the webhook secret appears in no log line and no response', async () => {
    assert.ok(
      harness.logLines.some((line) => line.includes('alert delivery failed')),
      'failures were logged',
    );
    for (const line of harness.logLines) assert.equal(line.includes(secret), false, line.slice(0, 200));
    for (const response of harness.responses) assert.equal(response.body.includes(secret), false);
  });
});

async function metricValue(sink: string, outcome: string): Promise<number> {
  const metric = await harness.app.metrics.alertDeliveriesTotal.get();
  return (
    metric.values.find((value) => value.labels.sink === sink && value.labels.outcome === outcome)?.value ?? 0
  );
}

describe('alert configuration', () => {
  const refused = (environment: Record<string, string>) => {
    try {
      loadConfig({ NODE_ENV: 'test', ...environment });
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
    return undefined;
  };

  test('the webhook URL is http(s), its secret is required with it and at least 32 characters, and no message shows the secret', () => {
    const shortSecret = 'short-secret-value-1234';
    assert.match(
      refused({ ALERT_WEBHOOK_URL: 'ftp://alerts.example', ALERT_WEBHOOK_SECRET: secret }) ?? '',
      /ALERT_WEBHOOK_URL must start with https:\/\/ or http:\/\//,
    );
    assert.match(
      refused({ ALERT_WEBHOOK_URL: 'not a url', ALERT_WEBHOOK_SECRET: secret }) ?? '',
      /ALERT_WEBHOOK_URL is not a URL/,
    );
    assert.match(
      refused({ ALERT_WEBHOOK_URL: 'https://alerts.example/hook' }) ?? '',
      /ALERT_WEBHOOK_SECRET is required with ALERT_WEBHOOK_URL/,
    );
    assert.match(
      refused({ ALERT_WEBHOOK_SECRET: secret }) ?? '',
      /ALERT_WEBHOOK_SECRET is set but ALERT_WEBHOOK_URL is not/,
    );
    const short = refused({
      ALERT_WEBHOOK_URL: 'https://alerts.example/hook',
      ALERT_WEBHOOK_SECRET: shortSecret,
    });
    assert.match(short ?? '', /ALERT_WEBHOOK_SECRET must be 32 to 512 characters/);
    assert.equal(short?.includes(shortSecret), false, 'the secret is not in the message');
    assert.match(
      refused({ ALERT_WEBHOOK_ATTEMPTS_MAX: '0' }) ?? '',
      /ALERT_WEBHOOK_ATTEMPTS_MAX must be between 1 and 20/,
    );
    const accepted = loadConfig({
      NODE_ENV: 'test',
      ALERT_WEBHOOK_URL: 'https://alerts.example/hook',
      ALERT_WEBHOOK_SECRET: secret,
    });
    assert.deepEqual(
      [accepted.security.alerts.webhook?.url, accepted.security.alerts.webhook?.attemptsMax],
      ['https://alerts.example/hook', 8],
    );
    assert.equal(
      loadConfig({ NODE_ENV: 'test' }).security.alerts.webhook,
      undefined,
      'no URL: the log sink alone',
    );
  });
});
