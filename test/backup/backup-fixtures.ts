import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { BackupError, type BackupErrorCode } from '../../src/modules/backup/backup-errors.ts';
import { type DatabaseExecutor, readTableCatalog } from '../../src/modules/backup/table-catalog.ts';

/** Every row of every data table as PostgreSQL's jsonb text, in a stable order. */
export async function snapshotRows(db: DatabaseExecutor): Promise<Record<string, string[]>> {
  const snapshot: Record<string, string[]> = {};
  for (const { name } of (await readTableCatalog(db)).tables) {
    const result = await sql<{ row: string }>`
      select to_jsonb(t)::text as row from ${sql.id('public', name)} as t order by 1`.execute(db);
    snapshot[name] = result.rows.map((row) => row.row);
  }
  return snapshot;
}

export async function rejectsWith(
  promise: Promise<unknown>,
  code: BackupErrorCode,
  message: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof BackupError, `expected a BackupError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    assert.ok(!error.message.includes('\n'), 'the message is one line');
    return true;
  });
}
