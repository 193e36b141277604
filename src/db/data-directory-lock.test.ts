import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { acquireDataDirectoryLock, DataDirectoryLockedError, lockFileName } from './data-directory-lock.ts';

describe('data directory lock (issue 7.18)', () => {
  const directory = mkdtempSync(join(tmpdir(), 'corebank-lock-'));
  const lockPath = join(directory, lockFileName);
  after(() => rmSync(directory, { recursive: true, force: true }));

  function writeLock(record: Record<string, unknown>): void {
    writeFileSync(lockPath, JSON.stringify(record));
  }

  test('one holder at a time; released, the directory is free again', () => {
    const release = acquireDataDirectoryLock(directory, 'corebank serve');
    assert.equal(JSON.parse(readFileSync(lockPath, 'utf8')).pid, process.pid);
    assert.throws(
      () => acquireDataDirectoryLock(directory, 'corebank db seed'),
      (error: unknown) => {
        assert.ok(error instanceof DataDirectoryLockedError);
        assert.match(error.message, new RegExp(`in use by process ${process.pid} \\(corebank serve, since `));
        assert.equal(error.message.includes('\n'), false);
        return true;
      },
    );
    release();
    assert.equal(existsSync(lockPath), false);
    acquireDataDirectoryLock(directory, 'corebank db seed')();
    assert.deepEqual(readdirSync(directory), [], 'no draft or stale file is left behind');
  });

  test('a lock whose process is gone is taken over', () => {
    const exited = spawnSync(process.execPath, ['-e', 'process.exit(0)']);
    assert.ok(exited.pid);
    writeLock({ pid: exited.pid, host: hostname(), holder: 'corebank serve', since: '2026-01-01T00:00:00Z' });
    const release = acquireDataDirectoryLock(directory, 'corebank db status');
    assert.equal(JSON.parse(readFileSync(lockPath, 'utf8')).holder, 'corebank db status');
    release();
  });

  test("an unreadable lock is stale; another host's lock is honoured (its process cannot be asked)", () => {
    writeFileSync(lockPath, 'not json');
    acquireDataDirectoryLock(directory, 'corebank serve')();
    writeLock({ pid: 1, host: 'elsewhere.example', holder: 'corebank serve', since: 'yesterday' });
    assert.throws(
      () => acquireDataDirectoryLock(directory, 'corebank serve'),
      /process 1 on elsewhere\.example/,
    );
    rmSync(lockPath);
  });

  test('release leaves a lock alone that is no longer its own', () => {
    const release = acquireDataDirectoryLock(directory, 'corebank serve');
    writeLock({ pid: 1, host: 'elsewhere.example', holder: 'someone', since: 'now' });
    release();
    assert.equal(existsSync(lockPath), true);
    rmSync(lockPath);
  });
});
