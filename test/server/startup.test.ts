import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { openTestDatabase, type TestDatabase, testEngine } from '../helpers/database.ts';
import { productionSecrets } from '../helpers/production-environment.ts';
import { runCommand, startServer, waitFor } from '../helpers/server-process.ts';

function engineEnvironment(
  database: TestDatabase | undefined,
  dataDirectory: string,
): Record<string, string> {
  // DATA_DIR on the server pass too: a development server keeps its signing key there, never in ./data.
  return database?.url
    ? { DATABASE_URL: database.url, DATA_DIR: dataDirectory }
    : { DATA_DIR: dataDirectory };
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
      // Its log line (stdout) and the credentials (stderr) travel on two pipes, in either order.
      const seeded = () => /seeded development data/.test(server.output());
      await waitFor(() => server.output().includes('API documentation:') && seeded(), 60_000);
      assert.match(server.output(), /seeded development data/);
      // Regression (issue 7.16): the newcomer sees the demo logins and where the docs are, at once.
      assert.match(server.output(), /superadmin@corebank\.dev\s+Corebank-Super-Admin-2026/);
      assert.match(server.output(), /PIN 123456/);
      assert.ok(server.output().includes(`API documentation: ${address}/docs`), server.output());
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

  test('corebank --version prints the package version', async () => {
    const { version } = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
    const finished = await runCommand(['--version'], {});
    assert.equal(finished.code, 0, finished.stderr);
    assert.equal(finished.stdout.trim(), version);
  });

  test('regression (issue 7.18): a PGlite data directory held by a server is refused to the CLI and to a second server', {
    skip: testEngine === 'pglite' ? false : 'the embedded engine only (runs in the PGlite pass)',
  }, async () => {
    const dataDirectory = scratch();
    const environment = { NODE_ENV: 'development', DATA_DIR: dataDirectory };
    const server = startServer(environment);
    let killed = false;
    try {
      await server.address;
      await waitFor(() => server.output().includes('API documentation:'), 60_000);
      const pid = server.child.pid;
      for (const command of [
        ['db', 'status'],
        ['db', 'seed'],
        ['ledger', 'check'],
      ]) {
        const refused = await runCommand(command, environment);
        assert.notEqual(refused.code, 0, `${command.join(' ')}: ${refused.stdout}`);
        const lines = refused.stderr.trim().split('\n');
        assert.equal(lines.length, 1, refused.stderr);
        assert.match(
          lines[0] ?? '',
          new RegExp(`^corebank: the data directory .* is in use by process ${pid} \\(corebank serve`),
        );
      }
      const second = startServer(environment);
      assert.equal(await second.exited, 1, second.output());
      assert.match(second.output(), /^corebank: the data directory .* is in use by process/m);
      // A holder that dies without closing leaves a stale lock: the next opener takes it over.
      server.child.kill('SIGKILL');
      killed = true;
      await server.exited;
      const status = await runCommand(['db', 'status'], environment);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /migrations: +\d+ applied, 0 pending/);
      // Regression (issue 7.16): an already seeded database still shows its demo credentials.
      const seed = await runCommand(['db', 'seed'], environment);
      assert.equal(seed.code, 0, seed.stderr);
      assert.match(seed.stdout, /already seeded/);
      assert.match(seed.stdout, /admin@corebank\.dev\s+Corebank-Admin-Demo-2026/);
      assert.match(seed.stdout, /API documentation: http:\/\/127\.0\.0\.1:3000\/docs/);
    } finally {
      if (!killed) server.child.kill('SIGKILL');
    }
  });

  test('an unreachable DATABASE_URL fails fast with one line', async () => {
    const server = startServer({
      NODE_ENV: 'development',
      DATA_DIR: scratch(),
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
    });
    assert.equal(await server.exited, 1);
    assert.match(server.output(), /^corebank: cannot reach the database \(ECONNREFUSED\)/m);
  });
});
