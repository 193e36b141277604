/**
 * `npm run bench:transfers`: transfers per second through the whole HTTP stack on a local PostgreSQL
 * server, compared with pgbench's built-in tpcb-like script run right after on the same server with
 * the same number of clients. The ratio transfers/s ÷ pgbench TPS is the figure to compare across
 * machines. Two cases: uniform random pairs, and a hot wallet (every transfer into one merchant).
 *
 * Then the batch endpoint (transfers/s through POST /v1/transactions/batch), GET /v1/me/balances
 * against GET /health on the same server, the round trips per request counted by a proxy that parses
 * the PostgreSQL protocol (round-trips.ts), and the embedded engine against a bare loop of the same
 * statement (transfers-pglite.ts).
 *
 * Environment: BENCH_ADMIN_URL (a PostgreSQL URL allowed to create databases, default
 * postgres://root@127.0.0.1:5432/postgres), BENCH_CUSTOMERS (N, 200), BENCH_CLIENTS (C, a list,
 * "32,256"), BENCH_SECONDS (T, 15), PGBENCH (path to pgbench), BENCH_SCALE (pgbench scale, 10),
 * BENCH_BATCH_SIZE (transfers per batch request, 100), BENCH_PGLITE (0 skips the embedded engine),
 * BENCH_ANALYZE (1 runs ANALYZE after funding, before the load), BENCH_SECURITY_ROUNDS (on/off pairs, 3),
 * BENCH_ONLY=security (only the security on/off rounds after funding), BENCH_SECURITY_OFF (which of
 * ACCESS_LOG_ENABLED, RATE_LIMIT_ENABLED, DETECTION_ENABLED the "off" side turns off; all three).
 * It creates two scratch databases (corebank_bench, corebank_bench_pgbench) and drops them at the end
 * (BENCH_KEEP_DATABASES=1 keeps them).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Pool } from 'undici';
import { type CpuSample, cpuPerOperation, sampleCpu } from './process-cpu.ts';
import { startCountingProxy } from './round-trips.ts';
import { median, percentile } from './statistics.ts';
import { bareLoopPglite } from './transfers-pglite.ts';

const adminUrl = process.env.BENCH_ADMIN_URL ?? 'postgres://root@127.0.0.1:5432/postgres';
const customers = Number(process.env.BENCH_CUSTOMERS ?? 200);
const clientCounts = (process.env.BENCH_CLIENTS ?? '32,256').split(',').map(Number);
const batchSize = Number(process.env.BENCH_BATCH_SIZE ?? 100);
const seconds = Number(process.env.BENCH_SECONDS ?? 15);
const scale = Number(process.env.BENCH_SCALE ?? 10);
const port = Number(process.env.BENCH_PORT ?? 3917);
const appDatabase = 'corebank_bench';
const pgbenchDatabase = 'corebank_bench_pgbench';
const pgbench =
  process.env.PGBENCH ??
  (existsSync('/usr/lib/postgresql/15/bin/pgbench') ? '/usr/lib/postgresql/15/bin/pgbench' : 'pgbench');

function urlFor(database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

async function recreateDatabases(): Promise<void> {
  for (const name of [appDatabase, pgbenchDatabase]) {
    await admin(`drop database if exists "${name}" with (force)`);
    await admin(`create database "${name}"`);
  }
}

/** Security operations off: the access log, rate limits and detection (the "off" side of the overhead pair). */
// BENCH_SECURITY_OFF (a comma list of these names) turns off only some of them, to attribute the cost.
const securitySwitches = ['ACCESS_LOG_ENABLED', 'RATE_LIMIT_ENABLED', 'DETECTION_ENABLED'];
const securityOff = Object.fromEntries(
  (process.env.BENCH_SECURITY_OFF ?? securitySwitches.join(',')).split(',').map((raw) => {
    const name = raw.trim();
    if (!securitySwitches.includes(name))
      throw new Error(
        `BENCH_SECURITY_OFF: ${name || '(empty)'} is not one of ${securitySwitches.join(', ')}`,
      );
    return [name, 'false'];
  }),
);
const securityRounds = Number(process.env.BENCH_SECURITY_ROUNDS ?? 3);
if (!Number.isInteger(securityRounds) || securityRounds < 1 || securityRounds > 20)
  throw new Error('BENCH_SECURITY_ROUNDS must be a whole number from 1 to 20');

// One signing key for every server of the run, so the customers' tokens stay valid across restarts.
const signingKey = generateKeyPairSync('ed25519')
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();

function serverEnvironment(text: string): Record<string, string> {
  const pairs = text
    .split(',')
    .filter(Boolean)
    .map((pair) => pair.split('='));
  for (const pair of pairs)
    if (pair.length !== 2 || !/^[A-Z][A-Z0-9_]*$/.test(pair[0] ?? ''))
      throw new Error(`BENCH_SERVER_ENV: "${pair.join('=')}" is not NAME=value`);
  return Object.fromEntries(pairs);
}

function startServer(databaseUrl: string | undefined, extra: Record<string, string> = {}): ChildProcess {
  const environment = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'development',
    ...(databaseUrl
      ? { DATABASE_URL: databaseUrl }
      : { DATA_DIR: mkdtempSync(join(tmpdir(), 'corebank-bench-')) }),
    DATABASE_POOL_MAX: process.env.BENCH_POOL_MAX ?? '20',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    SEED_ON_START: 'false',
    JWT_PRIVATE_KEY: signingKey,
    // Benchmark traffic must not trip the tier-0 limits (they are business rules, not the subject here).
    KYC_TIER0_DAILY_OUTGOING: '9000000000000',
    KYC_TIER0_SINGLE_TRANSFER_MAX: '9000000000000',
    KYC_TIER0_BALANCE_MAX: '9000000000000',
    // Every bench customer registers from 127.0.0.1: the per-address send limit would stop the set-up.
    MESSAGE_SENDS_PER_CLIENT_ADDRESS_MAX: '1000000',
    // Rate limits are checked on every request (their cost is measured) but set above the load, which
    // comes from one address; BENCH_REDIS_URL keeps their counters in Redis as several processes would.
    RATE_LIMIT_IP_REQUESTS_MAX: '10000000',
    RATE_LIMIT_AUTH_REQUESTS_MAX: '10000000',
    RATE_LIMIT_USER_REQUESTS_MAX: '10000000',
    // Detection runs its rules (their cost is measured) but the velocity rule's threshold is set above
    // the load: every bench customer sends dozens of transfers a minute, which is the rule's subject.
    DETECTION_VELOCITY_TRANSFERS_MIN: '100000',
    ...(process.env.BENCH_REDIS_URL ? { REDIS_URL: process.env.BENCH_REDIS_URL } : {}),
    // BENCH_SERVER_ENV='NAME=value,NAME=value' sets more server variables, for experiments.
    ...serverEnvironment(process.env.BENCH_SERVER_ENV ?? ''),
    // The payout worker and audit sealer keep running, as in production.
    ...extra,
  };
  // BENCH_SERVER_NODE_ARGS reaches the servers only, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'.
  const nodeArguments = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return spawn(process.execPath, [...nodeArguments, 'bin/corebank.js', 'serve'], {
    env: environment,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function waitReady(base: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const response = await fetch(`${base}/ready`).catch(() => undefined);
    if (response?.status === 200) return;
    await sleep(200);
  }
  throw new Error('server did not become ready within 60 s');
}

interface Customer {
  token: string;
  accountNumber: string;
}

async function json(response: Response): Promise<Record<string, unknown>> {
  const body = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${response.status}: ${JSON.stringify(body)}`);
  return body;
}

async function loginCustomer(base: string, index: number): Promise<Customer> {
  const phone = `0899${String(index).padStart(8, '0')}`;
  const accountNumber = `77${String(index).padStart(10, '0')}`;
  const headers = { 'content-type': 'application/json' };
  const login = await json(
    await fetch(`${base}/v1/auth/banking/login`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        name: `Bench Customer ${index}`,
        phone,
        account_number: accountNumber,
        mother_name: 'Mother Of Bench',
        pin: '123456',
        device: { type: 'android', id: `bench-${index}`, name: 'Bench' },
      }),
    }),
  );
  const outbox = await json(await fetch(`${base}/v1/dev/outbox?to=${phone}&limit=1`));
  const message = (outbox.messages as { body: string }[])[0];
  const otp = message?.body.match(/\b(\d{6})\b/)?.[1];
  if (!otp) throw new Error(`no OTP for ${phone}`);
  const verified = await json(
    await fetch(`${base}/v1/auth/banking/verify`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ login_token: login.login_token, otp }),
    }),
  );
  const token = verified.access_token as string;
  await json(
    await fetch(`${base}/v1/transactions/topup`, {
      method: 'POST',
      headers: { ...headers, authorization: `Bearer ${token}` },
      body: JSON.stringify({ amount: 1_000_000_000 }),
    }),
  );
  return { token, accountNumber };
}

interface LoadResult {
  /** CPU µs per completed transfer of the server, the database's backends and Redis (security rounds). */
  cpu?: (CpuSample & { total: number }) | undefined;
  /** Transfers per corebank_transfer_group call in the window (pg_stat_statements, when installed). */
  transfersPerGroup?: number | undefined;
  transfersPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  rejected: number;
  errors: number;
}

async function driveTransfers(
  base: string,
  people: Customer[],
  pick: () => [number, number],
  clients: number,
  durationSeconds = seconds,
): Promise<LoadResult> {
  const http = new Pool(base, { connections: clients, pipelining: 1 });
  const latencies: number[] = [];
  let ok = 0;
  let rejected = 0;
  let errors = 0;
  const stopAt = performance.now() + durationSeconds * 1000;
  const startedAt = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < stopAt) {
        const [from, to] = pick();
        const sender = people[from] as Customer;
        const receiver = people[to] as Customer;
        const began = performance.now();
        try {
          const response = await http.request({
            method: 'POST',
            path: '/v1/transactions/transfer',
            headers: {
              authorization: `Bearer ${sender.token}`,
              'content-type': 'application/json',
              'idempotency-key': randomUUID(),
            },
            body: JSON.stringify({ to_account_number: receiver.accountNumber, amount: 100 }),
          });
          await response.body.dump();
          latencies.push(performance.now() - began);
          if (response.statusCode === 201) ok += 1;
          else if (response.statusCode < 500) rejected += 1;
          else errors += 1;
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const elapsedSeconds = (performance.now() - startedAt) / 1000;
  await http.close();
  return {
    transfersPerSecond: ok / elapsedSeconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ok,
    rejected,
    errors,
  };
}

function initPgbench(): void {
  execFileSync(pgbench, ['-i', '-q', '-s', String(scale), urlFor(pgbenchDatabase)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** pgbench opens one connection per client; the server allows max_connections (less a margin). */
async function pgbenchClientsFor(clients: number): Promise<number> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const result = await client.query<{ max_connections: string }>('show max_connections');
    return Math.min(clients, Number(result.rows[0]?.max_connections ?? 100) - 10);
  } finally {
    await client.end();
  }
}

function runPgbench(clients: number): number {
  const url = urlFor(pgbenchDatabase);
  const output = execFileSync(
    pgbench,
    ['-c', String(clients), '-j', String(Math.min(clients, cpus().length)), '-T', String(seconds), '-n', url],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  const match = /tps = ([0-9.]+) \(without initial connection time\)/.exec(output);
  if (!match?.[1]) throw new Error(`cannot read pgbench output:\n${output}`);
  return Number(match[1]);
}

/** Batches of `batchSize` transfers (atomic: false) from random senders to random others. */
async function driveBatches(base: string, people: Customer[], clients: number): Promise<LoadResult> {
  const http = new Pool(base, { connections: clients, pipelining: 1 });
  const latencies: number[] = [];
  let ok = 0;
  let rejected = 0;
  let errors = 0;
  const stopAt = performance.now() + seconds * 1000;
  const startedAt = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < stopAt) {
        const from = Math.floor(Math.random() * people.length);
        const transfers = Array.from({ length: batchSize }, () => {
          const to = (from + 1 + Math.floor(Math.random() * (people.length - 1))) % people.length;
          return { to_account_number: (people[to] as Customer).accountNumber, amount: 1 };
        });
        const began = performance.now();
        try {
          const response = await http.request({
            method: 'POST',
            path: '/v1/transactions/batch',
            headers: {
              authorization: `Bearer ${(people[from] as Customer).token}`,
              'content-type': 'application/json',
              'idempotency-key': randomUUID(),
            },
            body: JSON.stringify({ atomic: false, transfers }),
          });
          const body = (await response.body.json()) as { completed?: number; rejected?: number };
          latencies.push(performance.now() - began);
          if (response.statusCode === 201) {
            ok += body.completed ?? 0;
            rejected += body.rejected ?? 0;
          } else if (response.statusCode < 500) rejected += batchSize;
          else errors += 1;
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const elapsedSeconds = (performance.now() - startedAt) / 1000;
  await http.close();
  return {
    transfersPerSecond: ok / elapsedSeconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ok,
    rejected,
    errors,
  };
}

/** Requests/s of one GET at C clients for T/2 seconds. */
async function driveGets(
  base: string,
  path: string,
  token: string | undefined,
  clients: number,
): Promise<number> {
  const http = new Pool(base, { connections: clients, pipelining: 1 });
  let ok = 0;
  const stopAt = performance.now() + (seconds * 1000) / 2;
  const startedAt = performance.now();
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < stopAt) {
        const response = await http.request({ method: 'GET', path, headers });
        await response.body.dump();
        if (response.statusCode === 200) ok += 1;
      }
    }),
  );
  const rate = ok / ((performance.now() - startedAt) / 1000);
  await http.close();
  return rate;
}

async function stopServer(server: ChildProcess): Promise<void> {
  const exited = new Promise((resolveExit) => server.once('exit', resolveExit));
  server.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000)]);
}

async function fundCustomers(base: string, count: number, offset: number): Promise<Customer[]> {
  const people: Customer[] = [];
  for (let start = 0; start < count; start += 8) {
    const batch = Array.from({ length: Math.min(8, count - start) }, (_, index) =>
      loginCustomer(base, offset + start + index),
    );
    people.push(...(await Promise.all(batch)));
  }
  return people;
}

/** Round trips per request, counted at the PostgreSQL protocol by a proxy, requests sent one at a time. */
async function countRoundTrips(): Promise<Record<string, number>> {
  const target = new URL(adminUrl);
  const proxy = await startCountingProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const url = new URL(urlFor(appDatabase));
  url.port = String(proxy.port);
  const server = startServer(url.toString());
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitReady(base);
    const [alice, bob] = await fundCustomers(base, 2, 900_000);
    if (!alice || !bob) throw new Error('no customers');
    const perRequest = async (requests: number, send: () => Promise<Response>): Promise<number> => {
      await (await send()).arrayBuffer();
      await sleep(500); // background jobs' trips settle; a quiet moment is measured
      const before = proxy.roundTrips();
      for (let index = 0; index < requests; index += 1) {
        const response = await send();
        await response.arrayBuffer();
        if (!response.ok) throw new Error(`${response.status} while counting`);
      }
      return (proxy.roundTrips() - before) / requests;
    };
    const authorized = { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' };
    const transfer = () =>
      fetch(`${base}/v1/transactions/transfer`, {
        method: 'POST',
        headers: { ...authorized, 'idempotency-key': randomUUID() },
        body: JSON.stringify({ to_account_number: bob.accountNumber, amount: 1 }),
      });
    const batch = () =>
      fetch(`${base}/v1/transactions/batch`, {
        method: 'POST',
        headers: { ...authorized, 'idempotency-key': randomUUID() },
        body: JSON.stringify({
          atomic: true,
          transfers: Array.from({ length: 10 }, () => ({ to_account_number: bob.accountNumber, amount: 1 })),
        }),
      });
    return {
      'POST /v1/transactions/transfer': await perRequest(100, transfer),
      'POST /v1/transactions/batch (10 items)': await perRequest(20, batch),
      'GET /v1/me/balances': await perRequest(100, () =>
        fetch(`${base}/v1/me/balances`, { headers: authorized }),
      ),
      'GET /v1/transactions': await perRequest(100, () =>
        fetch(`${base}/v1/transactions?limit=20`, { headers: authorized }),
      ),
      'GET /health': await perRequest(100, () => fetch(`${base}/health`)),
    };
  } finally {
    await stopServer(server);
    await proxy.close();
  }
}

interface OverheadResult {
  on: LoadResult;
  off: LoadResult;
  rounds: { on: LoadResult; off: LoadResult }[];
  /** The run before the rounds, security on: printed, not counted. */
  warmUp: LoadResult;
}

/**
 * Before a round: a checkpoint, so one does not fall at a random point of a round. The audit rows of
 * the round before are sealed by the next server's sealer (91 µs of PostgreSQL a row, measured with
 * pg_stat_statements): each round waits for that backlog first, so it pays for its own rows only.
 */
async function settleDatabase(): Promise<void> {
  const client = new pg.Client({ connectionString: urlFor(appDatabase) });
  await client.connect();
  try {
    await client.query('checkpoint');
  } finally {
    await client.end();
  }
}

/**
 * Calls of the transfer statement so far, from pg_stat_statements when the server preloads it
 * (shared_preload_libraries); undefined otherwise. The group committer's grouping decides how many
 * statements and commits a transfer costs.
 */
async function groupStatements(): Promise<number | undefined> {
  const client = new pg.Client({ connectionString: urlFor(appDatabase) });
  await client.connect();
  try {
    await client.query('create extension if not exists pg_stat_statements');
    const result = await client.query<{ calls: string | null }>(
      `select sum(calls) as calls from pg_stat_statements
        where dbid = (select oid from pg_database where datname = current_database())
          and query like 'select corebank_transfer_group(%'`,
    );
    return Number(result.rows[0]?.calls ?? 0);
  } catch {
    return undefined;
  } finally {
    await client.end();
  }
}

async function waitSealed(timeoutMs = 120_000): Promise<void> {
  const client = new pg.Client({ connectionString: urlFor(appDatabase) });
  await client.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const result = await client.query<{ pending: string }>(
        'select count(*) as pending from audit_logs where chain_sequence is null',
      );
      if (Number(result.rows[0]?.pending ?? 0) === 0) return;
      await sleep(250);
    }
    throw new Error('the audit sealer did not catch up within 120 s');
  } finally {
    await client.end();
  }
}

/** One measured round: a fresh server, a 3 s warm-up, then T seconds of uniform transfers at 32 clients. */
async function measureRound(
  people: Customer[],
  pair: () => [number, number],
  extra: Record<string, string>,
): Promise<LoadResult> {
  await settleDatabase();
  const server = startServer(urlFor(appDatabase), extra);
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitReady(base);
    await waitSealed();
    await driveTransfers(base, people, pair, 32, 3);
    const groupsBefore = await groupStatements();
    const before = sampleCpu(server.pid, appDatabase);
    const result = await driveTransfers(base, people, pair, 32);
    const cpu = cpuPerOperation(before, sampleCpu(server.pid, appDatabase), result.ok);
    const groupsAfter = await groupStatements();
    const groups = groupsBefore === undefined || groupsAfter === undefined ? 0 : groupsAfter - groupsBefore;
    return { ...result, cpu, transfersPerGroup: groups > 0 ? result.ok / groups : undefined };
  } finally {
    await stopServer(server);
  }
}

/** The round of median throughput, with the median of the rounds' p99s (bench/statistics.ts). */
function medianRun(results: LoadResult[]): LoadResult {
  const rate = median(results.map((result) => result.transfersPerSecond));
  const middle = results.find((result) => result.transfersPerSecond === rate) as LoadResult;
  return { ...middle, p99Ms: median(results.map((result) => result.p99Ms)) };
}

/**
 * Security operations (access log, rate limits, detection) on against off, in alternating rounds
 * (BENCH_SECURITY_ROUNDS pairs, default 3), the order swapped every round (on, off; off, on; on, off;
 * …) so drift in the machine's load falls on both sides, after one warm-up run that is printed and not
 * counted (the first server after funding ran ~40 % slower than the rest, whichever side it was); the
 * figures are the medians of the rounds (throughput and p99 separately).
 */
async function measureSecurityOverhead(
  people: Customer[],
  pair: () => [number, number],
): Promise<OverheadResult> {
  process.stderr.write('security operations: warm-up run (not counted)…\n');
  const warmUp = await measureRound(people, pair, {});
  const rounds: { on: LoadResult; off: LoadResult }[] = [];
  for (let round = 1; round <= securityRounds; round += 1) {
    const onFirst = round % 2 === 1;
    process.stderr.write(
      `security operations ${onFirst ? 'on, then off' : 'off, then on'}: round ${round} of ${securityRounds}…\n`,
    );
    const first = await measureRound(people, pair, onFirst ? {} : securityOff);
    const second = await measureRound(people, pair, onFirst ? securityOff : {});
    rounds.push(onFirst ? { on: first, off: second } : { on: second, off: first });
  }
  return {
    on: medianRun(rounds.map((round) => round.on)),
    off: medianRun(rounds.map((round) => round.off)),
    rounds,
    warmUp,
  };
}

/** The HTTP stack on the embedded engine (32 clients, 40 customers) and the bare statement loop. */
async function measurePglite(): Promise<{ http: number; bare: number }> {
  process.stderr.write('PGlite: HTTP transfers, then the bare statement loop…\n');
  const server = startServer(undefined);
  const base = `http://127.0.0.1:${port}`;
  let http: number;
  try {
    await waitReady(base);
    const people = await fundCustomers(base, 40, 500_000);
    const pair = (): [number, number] => {
      const from = Math.floor(Math.random() * people.length);
      return [from, (from + 1 + Math.floor(Math.random() * (people.length - 1))) % people.length];
    };
    http = (await driveTransfers(base, people, pair, 32)).transfersPerSecond;
  } finally {
    await stopServer(server);
  }
  return { http, bare: await bareLoopPglite(seconds) };
}

function line(label: string, result: LoadResult): string {
  return (
    `${label}: ${result.transfersPerSecond.toFixed(0)} transfers/s, p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms ` +
    `(${result.ok} ok, ${result.rejected} rejected, ${result.errors} errors)`
  );
}

function machineLines(): string[] {
  return [
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg()
      .map((value) => value.toFixed(2))
      .join(' ')}`,
    `N=${customers} customers, T=${seconds} s`,
  ];
}

function cpuText(result: LoadResult): string {
  const cpu = result.cpu;
  const grouping =
    result.transfersPerGroup === undefined
      ? ''
      : `, ${result.transfersPerGroup.toFixed(2)} transfers per statement`;
  if (!cpu) return `CPU not measured${grouping}`;
  return `${grouping.slice(2)}${grouping ? ', ' : ''}CPU ${cpu.total.toFixed(0)} µs/transfer (server ${cpu.server.toFixed(0)}, PostgreSQL ${cpu.postgres.toFixed(0)}, Redis ${cpu.redis.toFixed(0)})`;
}

/** The median of the rounds' CPU per transfer, by part. */
function medianCpu(results: LoadResult[]): LoadResult['cpu'] {
  const samples = results.map((result) => result.cpu).filter((cpu) => cpu !== undefined);
  if (samples.length === 0) return undefined;
  const part = (name: keyof CpuSample | 'total') => median(samples.map((cpu) => cpu[name]));
  return { server: part('server'), postgres: part('postgres'), redis: part('redis'), total: part('total') };
}

function cpuCostLine(rounds: OverheadResult['rounds']): string {
  const on = medianCpu(rounds.map((round) => round.on));
  const off = medianCpu(rounds.map((round) => round.off));
  if (!on || !off) return 'security CPU per transfer: not measured (no /proc)';
  return `security CPU per transfer (medians): on ${on.total.toFixed(0)} µs, off ${off.total.toFixed(0)} µs, on ÷ off ${(on.total / off.total).toFixed(3)} (server ${on.server.toFixed(0)} vs ${off.server.toFixed(0)}, PostgreSQL ${on.postgres.toFixed(0)} vs ${off.postgres.toFixed(0)}, Redis ${on.redis.toFixed(0)} vs ${off.redis.toFixed(0)})`;
}

function overheadLines({ on, off, rounds, warmUp }: OverheadResult): string[] {
  return [
    `security warm-up (not counted): on ${warmUp.transfersPerSecond.toFixed(0)}/s p99 ${warmUp.p99Ms.toFixed(1)} ms`,
    ...rounds.map(
      (round, index) =>
        `security round ${index + 1} (${index % 2 === 0 ? 'on first' : 'off first'}): on ${round.on.transfersPerSecond.toFixed(0)}/s p99 ${round.on.p99Ms.toFixed(1)} ms, ${cpuText(round.on)}; off ${round.off.transfersPerSecond.toFixed(0)}/s p99 ${round.off.p99Ms.toFixed(1)} ms, ${cpuText(round.off)}`,
    ),
    cpuCostLine(rounds),
    `security operations on (median of ${rounds.length}, C=32 uniform): ${line('on', on)}`,
    `security operations off (median of ${rounds.length}, C=32 uniform): ${line('off', off)}`,
    `security on ÷ off: throughput ${(on.transfersPerSecond / off.transfersPerSecond).toFixed(3)} (cost ${((1 - on.transfersPerSecond / off.transfersPerSecond) * 100).toFixed(1)} %), p99 ${on.p99Ms.toFixed(1)} vs ${off.p99Ms.toFixed(1)} ms`,
  ];
}

async function main(): Promise<void> {
  await recreateDatabases();
  const trips = await countRoundTrips();
  const server = startServer(urlFor(appDatabase));
  const base = `http://127.0.0.1:${port}`;
  const report: string[] = [];
  try {
    await waitReady(base);
    process.stderr.write(`logging in and funding ${customers} customers…\n`);
    const people = await fundCustomers(base, customers, 0);
    // BENCH_ANALYZE=1: fresh statistics before the load (a just-filled database may still have the
    // planner's estimates of its empty tables until autovacuum analyzes them).
    if (process.env.BENCH_ANALYZE === '1') {
      const client = new pg.Client({ connectionString: urlFor(appDatabase) });
      await client.connect();
      await client.query('analyze');
      await client.end();
    }
    const randomPair = (): [number, number] => {
      const from = Math.floor(Math.random() * people.length);
      const to = (from + 1 + Math.floor(Math.random() * (people.length - 1))) % people.length;
      return [from, to];
    };
    if (process.env.BENCH_ONLY === 'security') {
      await stopServer(server);
      const overhead = await measureSecurityOverhead(people, randomPair);
      console.log([...machineLines(), ...overheadLines(overhead)].join('\n'));
      return;
    }
    const hotPair = (): [number, number] => [1 + Math.floor(Math.random() * (people.length - 1)), 0];
    const runs: { clients: number; uniform: LoadResult; hot: LoadResult }[] = [];
    for (const clients of clientCounts) {
      process.stderr.write(`uniform and hot wallet: ${clients} clients for ${seconds} s each…\n`);
      runs.push({
        clients,
        uniform: await driveTransfers(base, people, randomPair, clients),
        hot: await driveTransfers(base, people, hotPair, clients),
      });
    }
    process.stderr.write(`batches of ${batchSize}: 8 clients for ${seconds} s…\n`);
    const batches = await driveBatches(base, people, 8);
    process.stderr.write('GET /v1/me/balances and GET /health: 32 clients…\n');
    const balances = await driveGets(base, '/v1/me/balances', people[0]?.token, 32);
    const health = await driveGets(base, '/health', undefined, 32);
    await stopServer(server);
    const overhead = await measureSecurityOverhead(people, randomPair);
    process.stderr.write(`pgbench tpcb-like, scale ${scale}…\n`);
    initPgbench();
    const tps = new Map<number, { clients: number; tps: number }>();
    for (const clients of clientCounts) {
      const pgbenchClients = await pgbenchClientsFor(clients);
      tps.set(clients, { clients: pgbenchClients, tps: runPgbench(pgbenchClients) });
    }
    const embedded = process.env.BENCH_PGLITE === '0' ? undefined : await measurePglite();
    report.push(...machineLines());
    for (const run of runs) {
      const measured = tps.get(run.clients);
      const reference = measured?.tps ?? Number.NaN;
      report.push(
        `C=${run.clients} ${line('uniform   ', run.uniform)}`,
        `C=${run.clients} ${line('hot wallet', run.hot)}`,
        `C=${run.clients} pgbench tpcb-like (${measured?.clients} clients): ${reference.toFixed(0)} TPS; uniform ÷ pgbench ${(run.uniform.transfersPerSecond / reference).toFixed(2)}; hot ÷ uniform ${(run.hot.transfersPerSecond / run.uniform.transfersPerSecond).toFixed(2)}`,
      );
    }
    report.push(...overheadLines(overhead));
    report.push(
      line(`batch endpoint (${batchSize} per request, 8 clients)`, batches),
      `GET /v1/me/balances ${balances.toFixed(0)} req/s, GET /health ${health.toFixed(0)} req/s, ratio ${(balances / health).toFixed(2)}`,
      `round trips per request (counted): ${Object.entries(trips)
        .map(([name, value]) => `${name} ${value.toFixed(2)}`)
        .join('; ')}`,
    );
    if (embedded) {
      report.push(
        `PGlite: HTTP ${embedded.http.toFixed(0)} transfers/s (C=32), bare loop of the same statement ${embedded.bare.toFixed(0)} transfers/s, ratio ${(embedded.http / embedded.bare).toFixed(2)}`,
      );
    }
    console.log(report.join('\n'));
  } finally {
    server.kill('SIGKILL');
    await sleep(300);
    // BENCH_KEEP_DATABASES=1 leaves them for inspection (EXPLAIN, pg_stat_statements, pgbench scripts).
    if (process.env.BENCH_KEEP_DATABASES !== '1')
      for (const name of [appDatabase, pgbenchDatabase])
        await admin(`drop database if exists "${name}" with (force)`).catch(() => undefined);
  }
}

await main();
