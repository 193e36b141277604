import assert from 'node:assert/strict';
import pg from 'pg';

/**
 * Turns a compiled single statement with `$n` parameters into one with the values written as SQL
 * literals, for the one place that sends SQL without parameters: the simple-protocol string of a
 * scoped read (tenant-transaction.ts), where several statements travel in one round trip and the
 * protocol has no parameters. Values are rendered by type, never by guessing:
 *
 * - strings and dates (as ISO 8601) through pg's escapeLiteral (quotes doubled; a string holding a
 *   backslash becomes an E'' literal with the backslash escaped); a NUL is refused;
 * - finite numbers and bigints as numerals, a negative one in parentheses (`x - -1` would start a
 *   comment);
 * - booleans and null as keywords.
 *
 * Anything else (arrays, objects, buffers) is a programmer error: such a read keeps withScope. The
 * statement text itself must be one statement whose placeholders are all outside quotes: a `;`, a
 * dollar-quoted string, an E'' string or a block comment in the text is refused, so a placeholder can
 * never be misread.
 */
export function inlineParameters(text: string, parameters: readonly unknown[]): string {
  let output = '';
  let index = 0;
  while (index < text.length) {
    const character = text[index] as string;
    const next = text[index + 1];
    if (character === "'" || character === '"') {
      const end = closingQuote(text, index, character);
      output += text.slice(index, end + 1);
      index = end + 1;
    } else if (character === '$') {
      const digits = /^\$(\d+)/.exec(text.slice(index));
      assert.ok(digits?.[1], 'a scoped read has no dollar-quoted strings');
      const position = Number(digits[1]);
      assert.ok(position >= 1 && position <= parameters.length, `parameter $${position} has no value`);
      output += sqlLiteral(parameters[position - 1]);
      index += digits[0].length;
    } else if (character === '-' && next === '-') {
      const end = text.indexOf('\n', index);
      index = end === -1 ? text.length : end;
    } else {
      assert.ok(character !== ';', 'a scoped read is one statement');
      assert.ok(!(character === '/' && next === '*'), 'a scoped read has no block comments');
      const escapeString = (character === 'E' || character === 'e') && next === "'";
      assert.ok(
        !escapeString || /[A-Za-z0-9_]/.test(text[index - 1] ?? ''),
        'a scoped read has no E strings',
      );
      output += character;
      index += 1;
    }
  }
  return output;
}

/** The index of the quote that closes the string or identifier opened at `start` (a doubled quote is one). */
function closingQuote(text: string, start: number, quote: string): number {
  let index = start + 1;
  for (;;) {
    const found = text.indexOf(quote, index);
    assert.ok(found !== -1, 'an unterminated quote in a scoped read');
    if (text[found + 1] !== quote) return found;
    index = found + 2;
  }
}

export function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'bigint') return value < 0n ? `(${value})` : String(value);
  if (typeof value === 'number') {
    assert.ok(Number.isFinite(value), 'a scoped read parameter is a finite number');
    return value < 0 ? `(${String(value)})` : String(value);
  }
  if (typeof value === 'string') {
    // The simple protocol ends the query text at a NUL; the input boundary refuses NUL long before.
    assert.ok(!value.includes('\u0000'), 'a scoped read parameter holds no NUL');
    return pg.escapeLiteral(value);
  }
  if (value instanceof Date) {
    assert.ok(!Number.isNaN(value.getTime()), 'a scoped read parameter is a valid date');
    return pg.escapeLiteral(value.toISOString());
  }
  assert.fail(`a scoped read parameter cannot be a ${Object.prototype.toString.call(value)}`);
}
