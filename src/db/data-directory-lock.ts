import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * One process at a time on an embedded (PGlite) data directory. PGlite takes no lock of its own on the
 * Node filesystem, and two processes writing one directory corrupt it (a CLI command under a running
 * server did, issue 7.18). The lock is a file in the directory naming its holder's pid; a holder that
 * is gone (killed, crashed) leaves a stale file that the next opener takes over.
 *
 * Staleness is decided by the pid alone, never by age: PGlite runs queries synchronously on the event
 * loop, so a lock kept fresh by a timer (proper-lockfile's design) would look stale during one long
 * query and be handed to a second process while the first still writes.
 */
export const lockFileName = 'corebank.lock';

interface LockRecord {
  pid: number;
  host: string;
  holder: string;
  since: string;
}

export class DataDirectoryLockedError extends Error {
  constructor(directory: string, record: LockRecord | undefined) {
    const who = record
      ? `process ${record.pid}${record.host === hostname() ? '' : ` on ${record.host}`} (${record.holder}, since ${record.since})`
      : 'another process';
    super(
      `the data directory ${directory} is in use by ${who}; stop it first, or point DATA_DIR elsewhere (if no such process runs, delete ${join(directory, lockFileName)})`,
    );
    this.name = 'DataDirectoryLockedError';
  }
}

function readRecord(path: string): LockRecord | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockRecord>;
    if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string') return undefined;
    return {
      pid: parsed.pid,
      host: parsed.host,
      holder: String(parsed.holder ?? 'unknown'),
      since: String(parsed.since ?? 'unknown'),
    };
  } catch {
    return undefined;
  }
}

function isAlive(record: LockRecord): boolean {
  // A process on another host cannot be asked: its lock is honoured until someone removes it by hand.
  if (record.host !== hostname()) return true;
  if (record.pid === process.pid) return true;
  try {
    process.kill(record.pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sameRecord(left: LockRecord | undefined, right: LockRecord | undefined): boolean {
  return left?.pid === right?.pid && left?.host === right?.host && left?.since === right?.since;
}

/**
 * Removes a stale lock without ever removing a fresh one: the file is first moved aside (only one
 * opener can move a given file), and put back if what was moved is not the stale record that was
 * judged (another opener took the lock over in between).
 */
function removeStale(path: string, stale: LockRecord | undefined): void {
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // Someone else moved it first; the next attempt sees what is there now.
  }
  if (sameRecord(readRecord(aside), stale)) {
    unlinkSync(aside);
    return;
  }
  try {
    linkSync(aside, path);
  } finally {
    unlinkSync(aside);
  }
}

const attemptsMax = 5;

/** Takes the directory's lock or throws DataDirectoryLockedError; returns the release function. */
export function acquireDataDirectoryLock(directory: string, holder: string): () => void {
  const path = join(directory, lockFileName);
  const record: LockRecord = { pid: process.pid, host: hostname(), holder, since: new Date().toISOString() };
  const draft = `${path}.${process.pid}.tmp`;
  writeFileSync(draft, `${JSON.stringify(record)}\n`);
  try {
    for (let attempt = 1; attempt <= attemptsMax; attempt += 1) {
      try {
        // link() creates the lock with its content in one step, and fails if a lock exists.
        linkSync(draft, path);
        return releaser(path, record);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const current = readRecord(path);
      if (current && isAlive(current)) throw new DataDirectoryLockedError(directory, current);
      removeStale(path, current);
    }
    throw new DataDirectoryLockedError(directory, readRecord(path));
  } finally {
    unlinkSync(draft);
  }
}

function releaser(path: string, record: LockRecord): () => void {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.removeListener('exit', release);
    // Only our own lock is removed: after a takeover by hand, the file may be someone else's.
    if (sameRecord(readRecord(path), record)) unlinkSync(path);
  };
  // A process that exits without closing the database (an uncaught error) still frees the directory.
  process.on('exit', release);
  return release;
}
