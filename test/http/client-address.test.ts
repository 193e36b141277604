import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { loginCustomer } from '../helpers/auth.ts';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';

/**
 * Regression (issue 7.14): trustProxy was hard-coded off, so behind a load balancer every audit row,
 * per-address limit and log line saw the balancer's address. TRUST_PROXY names who may say otherwise.
 */
const proxyAddress = '10.1.2.3';
const clientAddress = '203.0.113.7';

describe(`client address behind a proxy (${testEngine})`, () => {
  let database: TestDatabase;
  before(async () => {
    database = await openTestDatabase();
  });
  after(async () => database.close());

  /** The IP address the audit trail recorded for one top-up sent by the proxy for the client. */
  async function auditedAddress(trustProxy: string | undefined): Promise<string | undefined> {
    const environment: Record<string, string> = { NODE_ENV: 'test', LOGIN_IP_FAILURES_MAX: '100000' };
    if (trustProxy !== undefined) environment.TRUST_PROXY = trustProxy;
    const app = await buildApp({ config: loadConfig(environment), database, logger: false });
    try {
      await app.ready();
      const customer = await loginCustomer(app);
      const response = await app.inject({
        method: 'POST',
        url: '/v1/transactions/topup',
        remoteAddress: proxyAddress,
        headers: {
          authorization: `Bearer ${customer.accessToken}`,
          'idempotency-key': randomUUID(),
          // A client may send its own forged entry first; the proxy appends the address it saw.
          'x-forwarded-for': `198.51.100.99, ${clientAddress}`,
        },
        payload: { amount: 5 },
      });
      assert.equal(response.statusCode, 201, response.body);
      const row = await sql<{ address: string | null }>`
        select host(ip_address) as address from audit_logs
        where request_id = ${String(response.headers['x-request-id'])}`.execute(database.db);
      assert.ok(row.rows.length > 0, 'the top-up was audited');
      return row.rows[0]?.address ?? undefined;
    } finally {
      await app.close();
    }
  }

  test('off by default: X-Forwarded-For is ignored, the peer is the client', async () => {
    assert.equal(await auditedAddress(undefined), proxyAddress);
  });

  test('a trusted proxy address or range: the address it forwarded is the client, not a forged one', async () => {
    assert.equal(await auditedAddress(proxyAddress), clientAddress);
    assert.equal(await auditedAddress('10.0.0.0/8'), clientAddress);
    assert.equal(await auditedAddress('uniquelocal'), clientAddress);
  });

  test('a peer outside the trusted list is not believed', async () => {
    assert.equal(await auditedAddress('192.168.0.0/16'), proxyAddress);
  });
});
