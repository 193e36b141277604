import { stringify } from 'csv-stringify/sync';

/** Formula injection: a cell a spreadsheet would evaluate is written with a leading apostrophe. */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

/**
 * CSV text (RFC 4180 quoting by csv-stringify) with a header row of the columns, one line per record,
 * each record's cells taken by column name; every export of the API writes through here.
 */
export function recordsAsCsv(
  columns: readonly string[],
  records: readonly Record<string, unknown>[],
): string {
  const cells = records.map((record) => columns.map((column) => csvCell(record[column])));
  return stringify(cells, { header: true, columns: [...columns] });
}
