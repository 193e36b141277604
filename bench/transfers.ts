/**
 * `npm run bench:transfers`: transfers per second through the whole HTTP stack on a local PostgreSQL
 * server, compared with pgbench's built-in tpcb-like script run right after on the same server with
 * the same number of clients. The ratio transfers/s ÷ pgbench TPS is the figure to compare across
 * machines. Two cases: uniform random pairs, and a hot wallet (every transfer into one merchant).
 *
 * Environment: BENCH_ADMIN_URL (a PostgreSQL URL allowed to create databases, default
 * postgres://root@127.0.0.1:5432/postgres), BENCH_CUSTOMERS (N, 200), BENCH_CLIENTS (C, 32),
 * BENCH_SECONDS (T, 15), PGBENCH (path to pgbench), BENCH_SCALE (pgbench scale, 10).
 * It creates two scratch databases (corebank_bench, corebank_bench_pgbench) and drops them at the end.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Pool } from 'undici';
import { percentile } from './statistics.ts';

const adminUrl = process.env.BENCH_ADMIN_URL ?? 'postgres://root@127.0.0.1:5432/postgres';
const customers = Number(process.env.BENCH_CUSTOMERS ?? 200);
const clients = Number(process.env.BENCH_CLIENTS ?? 32);
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

function startServer(): ChildProcess {
  const key = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const environment = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'development',
    DATABASE_URL: urlFor(appDatabase),
    DATABASE_POOL_MAX: process.env.BENCH_POOL_MAX ?? String(Math.max(clients, 10)),
    PORT: String(port),
    LOG_LEVEL: 'warn',
    SEED_ON_START: 'false',
    JWT_PRIVATE_KEY: key,
    // Benchmark traffic must not trip the tier-0 limits (they are business rules, not the subject here).
    KYC_TIER0_DAILY_OUTGOING: '9000000000000',
    KYC_TIER0_SINGLE_TRANSFER_MAX: '9000000000000',
    KYC_TIER0_MAX_BALANCE: '9000000000000',
    // Every bench customer registers from 127.0.0.1: the per-address send limit would stop the set-up.
    MESSAGE_SENDS_PER_CLIENT_ADDRESS_MAX: '1000000',
    // The payout worker and audit sealer keep running, as in production.
  };
  return spawn(process.execPath, ['bin/corebank.js', 'serve'], {
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
): Promise<LoadResult> {
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

function runPgbench(): number {
  const url = urlFor(pgbenchDatabase);
  execFileSync(pgbench, ['-i', '-q', '-s', String(scale), url], { stdio: ['ignore', 'ignore', 'inherit'] });
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

async function main(): Promise<void> {
  await recreateDatabases();
  const server = startServer();
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitReady(base);
    process.stderr.write(`logging in and funding ${customers} customers…\n`);
    const people: Customer[] = [];
    for (let start = 0; start < customers; start += 8) {
      const batch = Array.from({ length: Math.min(8, customers - start) }, (_, offset) =>
        loginCustomer(base, start + offset),
      );
      people.push(...(await Promise.all(batch)));
    }
    const randomPair = (): [number, number] => {
      const from = Math.floor(Math.random() * people.length);
      const to = (from + 1 + Math.floor(Math.random() * (people.length - 1))) % people.length;
      return [from, to];
    };
    const hotPair = (): [number, number] => [1 + Math.floor(Math.random() * (people.length - 1)), 0];
    process.stderr.write(`uniform: ${clients} clients for ${seconds} s…\n`);
    const uniform = await driveTransfers(base, people, randomPair);
    process.stderr.write(`hot wallet: ${clients} clients for ${seconds} s…\n`);
    const hot = await driveTransfers(base, people, hotPair);
    // A graceful stop (and a written profile, when profiling) before pgbench gets the machine.
    const exited = new Promise((resolveExit) => server.once('exit', resolveExit));
    server.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
    process.stderr.write(`pgbench tpcb-like, scale ${scale}: ${clients} clients for ${seconds} s…\n`);
    const tps = runPgbench();
    const line = (label: string, result: LoadResult) =>
      `${label}: ${result.transfersPerSecond.toFixed(0)} transfers/s, p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms ` +
      `(${result.ok} ok, ${result.rejected} rejected, ${result.errors} errors)`;
    console.log(
      `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg()
        .map((value) => value.toFixed(2))
        .join(' ')}`,
    );
    console.log(`N=${customers} customers, C=${clients} clients, T=${seconds} s`);
    console.log(line('uniform   ', uniform));
    console.log(line('hot wallet', hot));
    console.log(`pgbench tpcb-like: ${tps.toFixed(0)} TPS`);
    console.log(`ratio uniform transfers/s ÷ pgbench TPS: ${(uniform.transfersPerSecond / tps).toFixed(2)}`);
    console.log(
      `ratio hot wallet ÷ uniform: ${(hot.transfersPerSecond / uniform.transfersPerSecond).toFixed(2)}`,
    );
  } finally {
    server.kill('SIGKILL');
    await sleep(300);
    for (const name of [appDatabase, pgbenchDatabase])
      await admin(`drop database if exists "${name}" with (force)`).catch(() => undefined);
  }
}

await main();
