import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Agent, fetch as undiciFetch } from 'undici';
import { developmentSigningKeyFileName } from '../../src/platform/auth/development-signing-key.ts';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';
import {
  requestOnNewConnection,
  runCommand,
  type Started,
  startServer,
  waitFor,
} from '../helpers/server-process.ts';

/**
 * Issue 8 item 6: several processes. A development server signs access tokens with a key persisted in
 * DATA_DIR, so a restart, a second process and every worker of `serve --workers` accept the tokens any
 * of them issued; `serve --workers N` shares one port between N processes.
 */

const postgresOnly =
  testEngine === 'postgres' ? false : 'needs a PostgreSQL server (runs in the PostgreSQL pass)';

/**
 * A customer's banking login over HTTP on ONE kept-alive connection: the development outbox holding
 * the OTP lives in the memory of the process that sent it, so behind `--workers` the three requests
 * must reach the same worker.
 */
async function loginCustomer(address: string): Promise<string> {
  const dispatcher = new Agent({ connections: 1 });
  try {
    const post = async (path: string, body: unknown) => {
      const response = await undiciFetch(`${address}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        dispatcher,
      });
      const text = await response.text();
      assert.equal(response.status, 200, `${path}: ${text}`);
      return JSON.parse(text) as Record<string, unknown>;
    };
    const phone = `08${randomInt(1_000_000_000, 9_999_999_999)}`;
    const login = await post('/v1/auth/banking/login', {
      name: 'Worker Test Customer',
      phone,
      account_number: `9${randomInt(100_000_000, 999_999_999)}${randomInt(10_000, 99_999)}`,
      mother_name: 'Mother Of Test',
      pin: '482916',
      device: { type: 'android', id: `device-${phone}`, name: 'Test Phone' },
    });
    const outbox = await undiciFetch(`${address}/v1/dev/outbox?to=${phone}&limit=1`, { dispatcher });
    const { messages } = (await outbox.json()) as { messages: { body: string }[] };
    const otp = /\b(\d{6})\b/.exec(messages[0]?.body ?? '')?.[1];
    assert.ok(otp, 'the OTP reached the outbox');
    const verified = await post('/v1/auth/banking/verify', { login_token: login.login_token, otp });
    return String(verified.access_token);
  } finally {
    await dispatcher.close();
  }
}

function profile(address: string, token: string, requestId?: string) {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (requestId) headers['x-request-id'] = requestId;
  return requestOnNewConnection(`${address}/v1/me`, { headers });
}

async function stop(server: Started): Promise<number | null> {
  server.child.kill('SIGTERM');
  return server.exited;
}

/** The worker numbers whose "request completed" lines carry one of these request ids. */
function workersThatAnswered(output: string, requestIds: readonly string[]): Set<number> {
  const answered = new Set<number>();
  for (const line of output.split('\n')) {
    if (!line.includes('"request completed"')) continue;
    const parsed = JSON.parse(line) as { reqId?: string; worker?: number; res?: { statusCode?: number } };
    if (parsed.reqId && requestIds.includes(parsed.reqId) && parsed.res?.statusCode === 200) {
      answered.add(Number(parsed.worker));
    }
  }
  return answered;
}

describe(`several processes (${testEngine})`, () => {
  const directories: string[] = [];
  const databases: TestDatabase[] = [];
  const scratch = () => {
    const directory = mkdtempSync(join(tmpdir(), 'corebank-workers-'));
    directories.push(directory);
    return directory;
  };
  /** Development on a scratch DATA_DIR, and on the PostgreSQL pass a scratch database of its own. */
  const developmentEnvironment = async (): Promise<Record<string, string>> => {
    const environment: Record<string, string> = {
      NODE_ENV: 'development',
      DATA_DIR: scratch(),
      SEED_ON_START: 'false',
      LOG_FORMAT: 'json',
    };
    if (testEngine === 'postgres') {
      const database = await openTestDatabase();
      databases.push(database);
      environment.DATABASE_URL = String(database.url);
    }
    return environment;
  };
  after(async () => {
    for (const database of databases) await database.close();
    for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  });

  test('regression (issue 8.6): a restarted development server accepts the access token the first one issued', async () => {
    const environment = await developmentEnvironment();
    const first = startServer(environment);
    let token: string;
    try {
      token = await loginCustomer(await first.address);
      assert.equal((await profile(await first.address, token)).status, 200);
    } finally {
      assert.equal(await stop(first), 0, first.output());
    }
    const keyFile = join(String(environment.DATA_DIR), developmentSigningKeyFileName);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'the key file is private to its owner');
    const keyBefore = readFileSync(keyFile, 'utf8');
    const second = startServer(environment);
    try {
      const answer = await profile(await second.address, token);
      assert.equal(answer.status, 200, answer.body);
    } finally {
      assert.equal(await stop(second), 0, second.output());
    }
    assert.equal(readFileSync(keyFile, 'utf8'), keyBefore, 'the restart reused the key, not a new one');
  });

  test('regression (issue 8.6): two development processes started together on one database accept each other’s tokens', {
    skip: postgresOnly,
  }, async () => {
    const environment = await developmentEnvironment();
    // Started at once, they race to create the key file: one creates it, the other reads it.
    const servers = [startServer(environment), startServer(environment)];
    try {
      const [first, second] = await Promise.all(servers.map((server) => server.address));
      assert.notEqual(first, second);
      const token = await loginCustomer(String(first));
      const answer = await profile(String(second), token);
      assert.equal(answer.status, 200, answer.body);
    } finally {
      for (const server of servers) assert.equal(await stop(server), 0, server.output());
    }
  });

  test('serve --workers 2: one port, both workers answer, a token works on either, a killed worker is replaced, SIGTERM stops all', {
    skip: postgresOnly,
  }, async () => {
    const server = startServer(await developmentEnvironment(), ['--workers', '2']);
    try {
      await waitFor(() => server.output().includes('"corebank workers listening"'), 60_000);
      const address = await server.address;
      const token = await loginCustomer(address);
      const requestIds = Array.from({ length: 8 }, (_unused, index) => `workers-${index}`);
      for (const requestId of requestIds) {
        const answer = await profile(address, token, requestId);
        assert.equal(answer.status, 200, answer.body);
      }
      await waitFor(() => workersThatAnswered(server.output(), requestIds).size === 2, 5000);
      assert.deepEqual([...workersThatAnswered(server.output(), requestIds)].sort(), [1, 2], server.output());
      // A worker that dies is replaced; the replacement accepts the same token.
      const workerTwo = /"pid":(\d+),"hostname":"[^"]*","worker":2,/.exec(server.output());
      assert.ok(workerTwo?.[1], 'worker 2 logged its pid');
      process.kill(Number(workerTwo[1]), 'SIGKILL');
      await waitFor(() => server.output().includes('"worker exited; restarting it"'), 10_000);
      const listened = () => server.output().split('"corebank listening"').length - 1;
      await waitFor(() => listened() >= 3, 30_000);
      assert.equal(listened(), 3, server.output());
      const again = Array.from({ length: 6 }, (_unused, index) => `replaced-${index}`);
      for (const requestId of again) assert.equal((await profile(address, token, requestId)).status, 200);
      await waitFor(() => workersThatAnswered(server.output(), again).size === 2, 5000);
      assert.deepEqual([...workersThatAnswered(server.output(), again)].sort(), [1, 2]);
    } finally {
      assert.equal(await stop(server), 0, server.output());
    }
    const shutdowns = server.output().split('"shutting down"').length - 1;
    assert.equal(shutdowns, 2, 'both workers drained on the primary’s SIGTERM');
  });

  test('serve --workers on a taken port: the workers fail to start, and the command stops with exit code 1 instead of hanging', {
    skip: postgresOnly,
  }, async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = String((taken.address() as AddressInfo).port);
      const server = startServer({ ...(await developmentEnvironment()), PORT: port }, ['--workers', '2']);
      assert.equal(await server.exited, 1, server.output());
      assert.match(server.output(), /^corebank: bind EADDRINUSE/m);
      assert.match(server.output(), /"a worker failed to start; stopping the other workers"/);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  test('serve --workers is bounded and refused on the embedded engine with one line', {
    skip: testEngine === 'pglite' ? false : 'engine-independent (runs in the PGlite pass)',
  }, async () => {
    const embedded = { NODE_ENV: 'development', DATA_DIR: scratch() };
    const refusals: [string[], Record<string, string>, RegExp][] = [
      [['--workers', '2'], embedded, /^corebank: --workers 2 needs DATABASE_URL: the embedded PGlite engine/],
      [[], { ...embedded, WEB_CONCURRENCY: '3' }, /^corebank: --workers 3 needs DATABASE_URL/],
      [['--workers', '0'], embedded, /^corebank: --workers must be a whole number from 1 to 64, got "0"/],
      [['--workers', '65'], embedded, /^corebank: --workers must be a whole number from 1 to 64, got "65"/],
      [['--workers', 'two'], embedded, /^corebank: --workers must be a whole number from 1 to 64/],
      [
        [],
        { ...embedded, WEB_CONCURRENCY: '65' },
        /^corebank: Invalid configuration: WEB_CONCURRENCY must be between 1 and 64/,
      ],
    ];
    const finished = await Promise.all(
      refusals.map(([args, environment]) => runCommand(['serve', ...args], environment)),
    );
    for (const [index, [args, , expected]] of refusals.entries()) {
      const refused = finished[index];
      assert.ok(refused);
      assert.notEqual(refused.code, 0, `${args.join(' ')}: ${refused.stdout}`);
      const lines = refused.stderr.trim().split('\n');
      assert.equal(lines.length, 1, refused.stderr);
      assert.match(lines[0] ?? '', expected);
    }
    const help = await runCommand(['serve', '--help'], {});
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /--workers <count>.*WEB_CONCURRENCY/s);
  });
});
