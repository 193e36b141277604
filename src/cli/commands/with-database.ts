import type { DatabaseHandle } from '../../db/database.ts';
import type { CliRuntime } from '../runtime.ts';

/** Opens the database for one command and always closes it, so the process can exit. */
export async function withDatabase<T>(
  runtime: CliRuntime,
  work: (handle: DatabaseHandle) => Promise<T>,
): Promise<T> {
  const handle = await runtime.openDatabase();
  try {
    return await work(handle);
  } finally {
    await handle.close();
  }
}
