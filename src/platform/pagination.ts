import { Type } from '@sinclair/typebox';
import { isStrictDateTime } from './date-formats.ts';
import { AppError } from './errors.ts';

/**
 * Keyset pagination cursors: opaque to clients, and validated completely when decoded (issue 7
 * follow-up: a cursor that decoded to a well-formed but impossible value, such as 2026-02-30T25:61,
 * reached a PostgreSQL cast and answered 500). A cursor is the base64url of `|`-separated parts; the
 * decoder accepts exactly the texts the encoder writes — canonical base64url, valid UTF-8, the right
 * number of parts, each part the exact form its kind is encoded in — so anything a list passes on to
 * SQL is a value the database represents. Everything else is 400 `VALIDATION_FAILED` naming
 * `querystring.cursor`.
 *
 * Ids are UUID v7 (time-ordered), so "by id" is "by creation" to the millisecond, and the id alone is
 * a total order: a page boundary can neither skip nor repeat a row, however many rows share a
 * millisecond.
 */
const idPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Cursor timestamps are written in UTC to the microsecond (the precision of `timestamptz`). */
const cursorTimePattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const partSeparator = '|';

/** What a part of a cursor is; each kind is checked to the exact form the encoder writes. */
export type CursorPartKind = 'id' | 'time';

const partCheck: Record<CursorPartKind, (part: string) => boolean> = {
  id: (part) => idPattern.test(part),
  time: (part) => cursorTimePattern.test(part) && isStrictDateTime(part),
};

/** The longest cursor any list issues (a time and an id: 64 characters, 86 in base64url). */
export const cursorLengthMax = 100;

function invalidCursor(): AppError {
  return new AppError('VALIDATION_FAILED', undefined, [
    { field: 'querystring.cursor', reason: 'is not a cursor this API issued' },
  ]);
}

export function encodeCursor(parts: readonly string[]): string {
  return Buffer.from(parts.join(partSeparator), 'utf8').toString('base64url');
}

/** The parts of a cursor of the given kinds, or 400 for anything the encoder could not have written. */
export function decodeCursor(cursor: string, kinds: readonly CursorPartKind[]): string[] {
  if (cursor.length === 0 || cursor.length > cursorLengthMax) throw invalidCursor();
  const bytes = Buffer.from(cursor, 'base64url');
  // Node skips characters outside the alphabet and ignores stray bits: only the canonical text counts.
  if (bytes.toString('base64url') !== cursor) throw invalidCursor();
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) throw invalidCursor();
  const parts = text.split(partSeparator);
  if (parts.length !== kinds.length) throw invalidCursor();
  parts.forEach((part, index) => {
    const kind = kinds[index];
    if (kind === undefined || !partCheck[kind](part)) throw invalidCursor();
  });
  return parts;
}

export function encodeIdCursor(id: string): string {
  return encodeCursor([id]);
}

export function decodeIdCursor(cursor: string): string {
  const [id] = decodeCursor(cursor, ['id']);
  if (id === undefined) throw invalidCursor();
  return id;
}

/** The next cursor of a page read with `limit + 1` rows: null when that extra row did not come. */
export function nextIdCursor(rows: readonly { id: string }[], limit: number): string | null {
  const last = rows[Math.min(rows.length, limit) - 1];
  return rows.length > limit && last ? encodeIdCursor(last.id) : null;
}

/** The one `cursor` query parameter of every list; its decoder checks what it decodes to. */
export const CursorQuerySchema = Type.Optional(
  Type.String({
    minLength: 1,
    maxLength: cursorLengthMax,
    pattern: '^[A-Za-z0-9_-]+$',
    description: 'next_cursor of the previous page.',
  }),
);

export const NextCursorSchema = Type.Union([Type.String({ maxLength: cursorLengthMax }), Type.Null()], {
  description: 'Pass as `cursor` for the next page; null on the last page.',
});
