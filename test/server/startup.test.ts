import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';
import { productionSecrets } from '../helpers/production-environment.ts';

interface Started {
  child: ChildProcess;
  address: Promise<string>;
  output: () => string;
  exited: Promise<number | null>;
}

function startServer(environment: Record<string, string | undefined>): Started {
  const child = spawn(process.execPath, ['bin/corebank.js', 'serve'], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const address = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"address":"(http:\/\/[^"]+)"/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    child.on('exit', () => reject(new Error(`server exited before listening:\n${output}`)));
  });
  address.catch(() => {});
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, address, output: () => output, exited };
}

function engineEnvironment(
  database: TestDatabase | undefined,
  dataDirectory: string,
): Record<string, string> {
  return database?.url ? { DATABASE_URL: database.url } : { DATA_DIR: dataDirectory };
}

describe(`server start-up (${testEngine})`, () => {
  const directories: string[] = [];
  const databases: TestDatabase[] = [];
  const scratch = () => {
    const directory = mkdtempSync(join(tmpdir(), 'corebank-start-'));
    directories.push(directory);
    return directory;
  };
  const serverDatabase = async () => {
    if (testEngine !== 'postgres') return undefined;
    const database = await openTestDatabase();
    databases.push(database);
    return database;
  };
  after(async () => {
    for (const database of databases) await database.close();
    for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  });

  // How fast it starts is measured by `npm run bench:startup`, not asserted here: this machine is shared.
  test('development: migrates, seeds, answers /health and /ready, drains on SIGTERM', async () => {
    const server = startServer({
      NODE_ENV: 'development',
      ...engineEnvironment(await serverDatabase(), scratch()),
    });
    try {
      const address = await server.address;
      const health = await fetch(`${address}/health`);
      assert.equal(health.status, 200);
      const ready = await fetch(`${address}/ready`);
      assert.equal(ready.status, 200, await ready.text());
      const lines = server
        .output()
        .split('\n')
        .filter((line) => line.includes('"reqId"'));
      assert.ok(lines.length > 0, 'request log lines carry the request id');
      for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), 'log lines are JSON');
      // The development seed runs once the server answers; wait for it (bounded) before shutting down.
      for (
        let waited = 0;
        !server.output().includes('seeded development data') && waited < 60_000;
        waited += 100
      ) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.match(server.output(), /seeded development data/);
    } finally {
      server.child.kill('SIGTERM');
    }
    assert.equal(await server.exited, 0, server.output());
  });

  test('production refuses to start with pending migrations and says what to do', async () => {
    const database = await serverDatabase();
    if (database) {
      const { rollback } = await import('../../src/db/migrator.ts');
      await rollback(database.db, 1);
    }
    const server = startServer({
      ...productionSecrets(),
      ...engineEnvironment(database, scratch()),
    });
    const code = await server.exited;
    assert.notEqual(code, 0);
    const errorLines = server
      .output()
      .split('\n')
      .filter((line) => line.startsWith('corebank:'));
    assert.equal(errorLines.length, 1, server.output());
    assert.match(errorLines[0] ?? '', /migrations are pending.*corebank db migrate.*MIGRATE_ON_START=true/);
  });

  test('a bad configuration value stops the start naming the variable', async () => {
    const server = startServer({ NODE_ENV: 'development', PORT: 'eighty', DATA_DIR: scratch() });
    assert.equal(await server.exited, 1);
    assert.match(server.output(), /^corebank: Invalid configuration: PORT must be a whole number/m);
    assert.doesNotMatch(server.output(), /\n\s+at /, 'no stack trace');
  });

  test('an unreachable DATABASE_URL fails fast with one line', async () => {
    const server = startServer({
      NODE_ENV: 'development',
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
    });
    assert.equal(await server.exited, 1);
    assert.match(server.output(), /^corebank: cannot reach the database \(ECONNREFUSED\)/m);
  });
});
