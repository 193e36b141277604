import { BackupError } from './backup-errors.ts';
import type { BackupHeader } from './backup-format.ts';
import {
  type DatabaseExecutor,
  readAppliedMigrations,
  readSequenceNames,
  readTableCatalog,
  type TableShape,
} from './table-catalog.ts';

/**
 * A restore writes rows, never DDL, so the database must already have the backup's schema: the same
 * applied migrations, and (when the backup carries a snapshot) the same tables and columns.
 */
export async function assertSchemaMatches(
  db: DatabaseExecutor,
  header: BackupHeader,
  file: string,
): Promise<void> {
  const applied = await readAppliedMigrations(db);
  if (applied.join('\n') !== header.migrations.join('\n')) {
    const current = applied.at(-1) ?? '(no migrations)';
    throw new BackupError(
      'BACKUP_SCHEMA_MISMATCH',
      `backup ${file} is at schema version ${header.schema_version || '(no migrations)'} but the database is at ` +
        `${current}; migrate the database to ${header.schema_version} first`,
    );
  }
  const { tables } = await readTableCatalog(db);
  const difference =
    (header.catalog ? describeShapeDifference(header.catalog, tables) : undefined) ??
    describeOrderProblem(header.tables, tables) ??
    (await describeMissingSequence(db, header));
  if (difference) {
    throw new BackupError(
      'BACKUP_SCHEMA_MISMATCH',
      `backup ${file} does not fit the database although both are at ${header.schema_version}: ${difference}; ` +
        'repair the schema drift first',
    );
  }
}

function columnSignature(table: TableShape): string {
  return table.columns
    .map((column) => `${column.name} ${column.type}${column.generated ? ' generated' : ''}`)
    .join(', ');
}

/** The first difference in tables or columns between the backup's snapshot and the database, if any. */
export function describeShapeDifference(expected: TableShape[], actual: TableShape[]): string | undefined {
  const actualByName = new Map(actual.map((table) => [table.name, table]));
  for (const table of expected) {
    const found = actualByName.get(table.name);
    if (!found) return `table ${table.name} is missing`;
    if (columnSignature(found) !== columnSignature(table)) {
      return `table ${table.name} has columns (${columnSignature(found)}), the backup (${columnSignature(table)})`;
    }
  }
  const expectedNames = new Set(expected.map((table) => table.name));
  const extra = actual.find((table) => !expectedNames.has(table.name));
  return extra ? `table ${extra.name} is not in the backup` : undefined;
}

/** Every backed-up table must exist, and come after the tables it references in the database. */
function describeOrderProblem(backupOrder: string[], actual: TableShape[]): string | undefined {
  const actualByName = new Map(actual.map((table) => [table.name, table]));
  const position = new Map(backupOrder.map((name, index) => [name, index]));
  for (const [index, name] of backupOrder.entries()) {
    const table = actualByName.get(name);
    if (!table) return `table ${name} is missing`;
    const late = table.references.find((reference) => (position.get(reference) ?? -1) > index);
    if (late) return `table ${name} references ${late}, which the backup holds later`;
  }
  return undefined;
}

async function describeMissingSequence(
  db: DatabaseExecutor,
  header: BackupHeader,
): Promise<string | undefined> {
  if (header.sequences.length === 0) return undefined;
  const present = new Set(await readSequenceNames(db));
  const missing = header.sequences.find((sequence) => !present.has(sequence.name));
  return missing ? `sequence ${missing.name} is missing` : undefined;
}
