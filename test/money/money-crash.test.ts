import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { Pool } from 'undici';
import { type AppInstance, buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { withScope } from '../../src/db/tenant-transaction.ts';
import { checkLedger } from '../../src/modules/ledger/ledger-check.ts';
import { bearer, type LoggedInCustomer, loginCustomer } from '../helpers/auth.ts';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';

/**
 * Crash consistency: a server process is SIGKILLed in the middle of a transfer load on the PostgreSQL
 * server, restarted, and every request that got no answer is sent again with its Idempotency-Key.
 * Nothing may be applied twice or lost: each planned transfer ends with exactly one answer, the ledger
 * holds exactly the accepted ones, and `ledger check` is clean.
 */
const onServer = testEngine === 'postgres';
const root = resolve(import.meta.dirname, '../..');
const startingBalance = 200_000;

let database: TestDatabase;
let app: AppInstance;
let environment: Record<string, string>;
let child: ChildProcess | undefined;

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function startChild(port: number): Promise<void> {
  child = spawn(process.execPath, ['bin/corebank.js', 'serve'], {
    cwd: root,
    env: { ...process.env, ...environment, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/ready`);
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  throw new Error('server did not become ready');
}

before(async () => {
  if (!onServer) return;
  database = await openTestDatabase();
  const key = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  environment = {
    NODE_ENV: 'test',
    DATABASE_URL: database.url as string,
    JWT_PRIVATE_KEY: key,
    JWT_KEY_ID: 'crash-test',
    LOG_LEVEL: 'silent',
    KYC_TIER0_DAILY_OUTGOING: '900000000000',
    KYC_TIER0_SINGLE_TRANSFER_MAX: '900000000000',
    // A window makes the concurrent transfers share groups, so the kill lands in a group commit.
    MONEY_GROUP_COMMIT_WINDOW_MS: '3',
  };
  app = await buildApp({ config: loadConfig(environment), database, logger: false });
  await app.ready();
});

after(async () => {
  if (!onServer) return;
  child?.kill('SIGKILL');
  await app.close();
  await database.close();
});

interface Planned {
  key: string;
  from: number;
  to: number;
  amount: number;
  status?: number;
  transactionId?: string;
}

async function send(http: Pool, people: LoggedInCustomer[], item: Planned): Promise<void> {
  const from = people[item.from] as LoggedInCustomer;
  const to = people[item.to] as LoggedInCustomer;
  const response = await http.request({
    method: 'POST',
    path: '/v1/transactions/transfer',
    headers: { ...bearer(from), 'content-type': 'application/json', 'idempotency-key': item.key },
    body: JSON.stringify({ to_account_number: to.accountNumber, amount: item.amount }),
  });
  const body = (await response.body.json()) as { transaction_id?: string };
  item.status = response.statusCode;
  if (body.transaction_id) item.transactionId = body.transaction_id;
}

test('SIGKILL mid-load (in group commits), restart, resend the unanswered with their keys: nothing doubled, ledger clean', {
  skip: !onServer && 'needs TEST_DATABASE_URL',
  timeout: 180_000,
}, async () => {
  const people = await Promise.all(Array.from({ length: 12 }, () => loginCustomer(app)));
  for (const person of people) {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/transactions/topup',
      headers: bearer(person),
      payload: { amount: startingBalance },
    });
    assert.equal(response.statusCode, 201);
  }
  const plan: Planned[] = Array.from({ length: 400 }, () => {
    const from = Math.floor(Math.random() * people.length);
    const to = (from + 1 + Math.floor(Math.random() * (people.length - 1))) % people.length;
    return { key: randomUUID(), from, to, amount: 1 + Math.floor(Math.random() * 40_000) };
  });

  const firstPort = await freePort();
  await startChild(firstPort);
  const firstHttp = new Pool(`http://127.0.0.1:${firstPort}`, { connections: 16 });
  let answered = 0;
  const killer = (async () => {
    while (answered < 100) await sleep(5);
    child?.kill('SIGKILL');
  })();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < plan.length) {
        const item = plan[next++] as Planned;
        try {
          await send(firstHttp, people, item);
          answered += 1;
        } catch {
          // The server died with this request in flight: it stays unanswered.
        }
      }
    }),
  );
  await killer;
  await firstHttp.destroy();
  const unanswered = plan.filter((item) => item.status === undefined);
  assert.ok(
    answered >= 100 && unanswered.length > 0,
    `answered ${answered}, unanswered ${unanswered.length}`,
  );

  const secondPort = await freePort();
  await startChild(secondPort);
  const secondHttp = new Pool(`http://127.0.0.1:${secondPort}`, { connections: 16 });
  try {
    const sample = plan
      .filter((item) => item.status === 201)
      .slice(0, 20)
      .map((item) => ({ ...item }));
    for (const item of [...unanswered, ...sample]) await send(secondHttp, people, item);
    for (const [index, item] of sample.entries()) {
      const original = plan.find((candidate) => candidate.key === item.key);
      assert.equal(
        item.transactionId,
        original?.transactionId,
        `replay ${index} returned the original transfer`,
      );
    }
  } finally {
    await secondHttp.close();
    child?.kill('SIGKILL');
  }

  for (const item of plan)
    assert.ok(item.status === 201 || item.status === 422, `final status ${item.status}`);
  const accepted = plan.filter((item) => item.status === 201);
  assert.equal(new Set(accepted.map((item) => item.transactionId)).size, accepted.length);
  const tenantId = people[0]?.tenantId as string;
  await withScope(database.db, { tenantId }, async (transaction) => {
    const userIds = people.map((person) => person.userId);
    const outgoing = await sql<{ total: number }>`
      select count(*)::bigint as total from transactions
      where tenant_id = ${tenantId} and type = 'transfer_out' and user_id = any(${userIds}::uuid[])`.execute(
      transaction,
    );
    assert.equal(outgoing.rows[0]?.total, accepted.length, 'the ledger holds exactly the accepted transfers');
    const expected = people.map(() => startingBalance);
    for (const item of accepted) {
      expected[item.from] = (expected[item.from] as number) - item.amount;
      expected[item.to] = (expected[item.to] as number) + item.amount;
    }
    const wallets = await transaction
      .selectFrom('wallets')
      .select(['user_id', 'balance'])
      .where('user_id', 'in', userIds)
      .where('asset_code', '=', 'IDR')
      .execute();
    const byUser = new Map(wallets.map((wallet) => [wallet.user_id, wallet.balance]));
    assert.deepEqual(
      userIds.map((id) => byUser.get(id)),
      expected,
    );
  });
  const check = await checkLedger(database.db);
  assert.equal(check.problem, undefined, JSON.stringify(check.problem));
});

interface PlannedBatch {
  key: string;
  from: number;
  items: { to: number; amount: number }[];
  status?: number;
}

async function sendBatch(http: Pool, people: LoggedInCustomer[], batch: PlannedBatch): Promise<void> {
  const from = people[batch.from] as LoggedInCustomer;
  const response = await http.request({
    method: 'POST',
    path: '/v1/transactions/batch',
    headers: { ...bearer(from), 'content-type': 'application/json', 'idempotency-key': batch.key },
    body: JSON.stringify({
      atomic: true,
      transfers: batch.items.map((item) => ({
        to_account_number: (people[item.to] as LoggedInCustomer).accountNumber,
        amount: item.amount,
      })),
    }),
  });
  await response.body.dump();
  batch.status = response.statusCode;
}

test('SIGKILL during atomic batches: after a restart and resend every batch is whole or absent, ledger clean', {
  skip: !onServer && 'needs TEST_DATABASE_URL',
  timeout: 180_000,
}, async () => {
  const people = await Promise.all(Array.from({ length: 8 }, () => loginCustomer(app)));
  for (const person of people) {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/transactions/topup',
      headers: bearer(person),
      payload: { amount: startingBalance },
    });
    assert.equal(response.statusCode, 201);
  }
  const plan: PlannedBatch[] = Array.from({ length: 150 }, () => {
    const from = Math.floor(Math.random() * people.length);
    const items = Array.from({ length: 2 + Math.floor(Math.random() * 8) }, () => ({
      to: (from + 1 + Math.floor(Math.random() * (people.length - 1))) % people.length,
      amount: 1 + Math.floor(Math.random() * 9_000),
    }));
    return { key: randomUUID(), from, items };
  });
  const firstPort = await freePort();
  await startChild(firstPort);
  const firstHttp = new Pool(`http://127.0.0.1:${firstPort}`, { connections: 8 });
  let answered = 0;
  const killer = (async () => {
    while (answered < 40) await sleep(2);
    child?.kill('SIGKILL');
  })();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < plan.length) {
        const batch = plan[next++] as PlannedBatch;
        try {
          await sendBatch(firstHttp, people, batch);
          answered += 1;
        } catch {
          // In flight when the server died: unanswered.
        }
      }
    }),
  );
  await killer;
  await firstHttp.destroy();
  const unanswered = plan.filter((batch) => batch.status === undefined);
  assert.ok(unanswered.length > 0, `answered ${answered}, none unanswered`);
  const secondPort = await freePort();
  await startChild(secondPort);
  const secondHttp = new Pool(`http://127.0.0.1:${secondPort}`, { connections: 8 });
  try {
    for (const batch of unanswered) await sendBatch(secondHttp, people, batch);
  } finally {
    await secondHttp.close();
    child?.kill('SIGKILL');
  }
  for (const batch of plan) assert.ok(batch.status === 201 || batch.status === 422, `status ${batch.status}`);
  const accepted = plan.filter((batch) => batch.status === 201);
  const expected = people.map(() => startingBalance);
  for (const batch of accepted) {
    for (const item of batch.items) {
      expected[batch.from] = (expected[batch.from] as number) - item.amount;
      expected[item.to] = (expected[item.to] as number) + item.amount;
    }
  }
  const tenantId = people[0]?.tenantId as string;
  const userIds = people.map((person) => person.userId);
  await withScope(database.db, { tenantId }, async (transaction) => {
    const outgoing = await sql<{ total: number }>`
      select count(*)::bigint as total from transactions
      where tenant_id = ${tenantId} and type = 'transfer_out' and user_id = any(${userIds}::uuid[])`.execute(
      transaction,
    );
    const items = accepted.reduce((sum, batch) => sum + batch.items.length, 0);
    assert.equal(
      outgoing.rows[0]?.total,
      items,
      'the ledger holds exactly the items of the accepted batches',
    );
    const wallets = await transaction
      .selectFrom('wallets')
      .select(['user_id', 'balance'])
      .where('user_id', 'in', userIds)
      .where('asset_code', '=', 'IDR')
      .execute();
    const byUser = new Map(wallets.map((wallet) => [wallet.user_id, wallet.balance]));
    assert.deepEqual(
      userIds.map((id) => byUser.get(id)),
      expected,
      'every batch whole or absent',
    );
  });
  const check = await checkLedger(database.db);
  assert.equal(check.problem, undefined, JSON.stringify(check.problem));
});
