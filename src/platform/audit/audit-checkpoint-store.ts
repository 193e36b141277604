import { randomBytes } from 'node:crypto';
import { chmod, link, lstat, mkdir, open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { checkpointBytesMax, checkpointFileSuffix } from './audit-checkpoint-format.ts';

const fileNamePattern =
  /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-([1-9]\d{0,14})\.checkpoint$/;

export interface CheckpointFileName {
  fileName: string;
  tenantId: string;
  chainSequence: number;
  /** False for a symlink, a directory or anything else that is not a plain file: never opened. */
  regular: boolean;
}

function entryOf(fileName: string, regular: boolean): CheckpointFileName {
  const match = fileNamePattern.exec(fileName);
  return {
    fileName,
    tenantId: match?.[1] ?? '',
    chainSequence: match ? Number(match[2]) : 0,
    regular,
  };
}

/** Creates the checkpoint directory, private to the server's user, when it is missing. */
export async function ensureCheckpointDirectory(directory: string): Promise<void> {
  await mkdir(directory, { recursive: true, mode: 0o700 });
}

/**
 * Every `*.checkpoint` entry in the directory, by name; names that do not parse get tenant ''. Entries
 * that are not plain files are listed too (marked), so verification reports them instead of passing
 * over them.
 */
export async function listCheckpointFiles(directory: string): Promise<CheckpointFileName[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  return entries
    .filter((entry) => entry.name.endsWith(checkpointFileSuffix))
    .map((entry) => entryOf(entry.name, entry.isFile()))
    .sort((left, right) => (left.fileName < right.fileName ? -1 : left.fileName > right.fileName ? 1 : 0));
}

/** Reads one checkpoint file, refusing one larger than any checkpoint could be. */
export async function readCheckpointFile(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size > checkpointBytesMax) throw new Error(`it is ${size} bytes, more than ${checkpointBytesMax}`);
    const buffer = Buffer.alloc(size);
    await handle.read(buffer, 0, size, 0);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}

/** The entry at this name (not following a symlink), or undefined when there is none. */
export async function checkpointEntry(
  directory: string,
  fileName: string,
): Promise<CheckpointFileName | undefined> {
  try {
    return entryOf(fileName, (await lstat(join(directory, fileName))).isFile());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Writes a new checkpoint file, never replacing one: the text goes to a private temporary file
 * (flushed to disk), which is then hard-linked under its final name. link() fails when the name
 * exists, so two processes checkpointing the same tenant and sequence at once leave one whole file
 * and nobody ever reads a half-written one. Returns false when the file already existed.
 */
export async function writeCheckpointFile(
  directory: string,
  fileName: string,
  text: string,
): Promise<boolean> {
  const temporary = join(directory, `.${fileName}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    // The umask may have narrowed the mode further, never widened it; make it exactly 0600.
    await chmod(temporary, 0o600);
    await link(temporary, join(directory, fileName));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temporary);
  }
}
