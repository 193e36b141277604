import { Type } from '@sinclair/typebox';
import { AppError } from './errors.ts';

/**
 * Keyset pagination by id. Ids are UUID v7 (time-ordered), so "by id" is "by creation" to the
 * millisecond, and the id alone is a total order: a page boundary can neither skip nor repeat a row,
 * however many rows share a millisecond. The cursor is the last row's id, opaque to clients.
 */
const idPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeIdCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

export function decodeIdCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!idPattern.test(id)) {
    throw new AppError('VALIDATION_FAILED', undefined, [
      { field: 'querystring.cursor', reason: 'is not a cursor from this list' },
    ]);
  }
  return id;
}

/** The next cursor of a page read with `limit + 1` rows: null when that extra row did not come. */
export function nextIdCursor(rows: readonly { id: string }[], limit: number): string | null {
  const last = rows[Math.min(rows.length, limit) - 1];
  return rows.length > limit && last ? encodeIdCursor(last.id) : null;
}

export const CursorQuerySchema = Type.Optional(
  Type.String({
    minLength: 1,
    maxLength: 100,
    pattern: '^[A-Za-z0-9_-]+$',
    description: 'next_cursor of the previous page.',
  }),
);

export const NextCursorSchema = Type.Union([Type.String({ maxLength: 100 }), Type.Null()], {
  description: 'Pass as `cursor` for the next page; null on the last page.',
});
