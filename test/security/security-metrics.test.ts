import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, loginCustomer } from '../helpers/auth.ts';
import { createHarness, type Harness } from '../identity/harness.ts';

/*
 * Issue 10 item 10: corebank_-prefixed metrics for rate-limit rejections, the access log's queue
 * depth and drops, the same for the other background queues (refusal events, rate-limit violations)
 * labelled by queue, and alert deliveries. The queues flush once a minute here, so what the requests
 * queued is still waiting when /metrics is read.
 */

let harness: Harness;

before(async () => {
  harness = await createHarness({
    RATE_LIMIT_IP_REQUESTS_MAX: '5',
    ACCESS_LOG_FLUSH_INTERVAL_MS: '60000',
  });
});

after(async () => {
  await harness.close();
});

function sample(body: string, pattern: RegExp): number {
  const match = pattern.exec(body);
  assert.ok(match?.[1] !== undefined, `no sample matching ${pattern}`);
  return Number(match[1]);
}

describe('security metrics', () => {
  test('/metrics shows rate-limit rejections, every background queue depth, the drop counters and alert deliveries', async () => {
    const limited = [];
    for (let index = 0; index < 7; index += 1) {
      limited.push(await harness.app.inject({ method: 'GET', url: '/health', remoteAddress: '10.20.30.40' }));
    }
    assert.deepEqual(
      limited.map((answer) => answer.statusCode),
      [200, 200, 200, 200, 200, 429, 429],
    );
    const customer = await loginCustomer(harness.app, {});
    const forbidden = await harness.app.inject({
      method: 'GET',
      url: '/v1/admin/security/alerts',
      headers: bearer(customer),
      remoteAddress: '10.20.30.41',
    });
    assert.equal(forbidden.statusCode, 403, 'a refusal event is queued');
    const { body } = await harness.app.inject({
      method: 'GET',
      url: '/metrics',
      remoteAddress: '10.20.30.42',
    });
    assert.equal(sample(body, /^corebank_rate_limit_rejections_total\{limit="ip"\} (\d+)$/m), 2);
    assert.ok(sample(body, /^corebank_access_log_queue_depth (\d+)$/m) >= 8, 'the access log waits to flush');
    assert.equal(
      sample(body, /^corebank_background_queue_depth\{queue="access_log"\} (\d+)$/m),
      sample(body, /^corebank_access_log_queue_depth (\d+)$/m),
    );
    assert.equal(sample(body, /^corebank_background_queue_depth\{queue="refusal_events"\} (\d+)$/m), 1);
    assert.equal(
      sample(body, /^corebank_background_queue_depth\{queue="rate_limit_violations"\} (\d+)$/m),
      1,
      'the first rejection of a key in a window is recorded, not the second',
    );
    for (const counter of [
      'corebank_access_log_dropped_total',
      'corebank_background_queue_dropped_total',
      'corebank_alert_deliveries_total',
      'corebank_access_log_written_total',
    ]) {
      assert.match(body, new RegExp(`^# TYPE ${counter} counter$`, 'm'), counter);
    }
  });
});
