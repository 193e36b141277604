import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inlineParameters, sqlLiteral } from './sql-literals.ts';

describe('inlineParameters: the literals of a one-round-trip scoped read', () => {
  test('every value type renders as the literal PostgreSQL reads back as the same value', () => {
    assert.equal(sqlLiteral(null), 'null');
    assert.equal(sqlLiteral(undefined), 'null');
    assert.equal(sqlLiteral(true), 'true');
    assert.equal(sqlLiteral(21), '21');
    assert.equal(sqlLiteral(-1), '(-1)', 'x - -1 would start a comment');
    assert.equal(sqlLiteral(-5n), '(-5)');
    assert.equal(sqlLiteral("it's"), "'it''s'");
    assert.equal(sqlLiteral('a\\b'), " E'a\\\\b'");
    assert.equal(sqlLiteral(new Date('2026-01-02T03:04:05.678Z')), "'2026-01-02T03:04:05.678Z'");
  });

  test('placeholders outside quotes are replaced; quoted text and identifiers are left alone', () => {
    const text = `select "a$1", '$2 '' $1' as x from t where t.a = $1 and t.b = $2 and t.c = $10 -- $1\n`;
    const values = ["o'clock", -3, 3, 4, 5, 6, 7, 8, 9, 'tenth'];
    assert.equal(
      inlineParameters(text, values),
      `select "a$1", '$2 '' $1' as x from t where t.a = 'o''clock' and t.b = (-3) and t.c = 'tenth' \n`,
    );
  });

  test('what could misplace a placeholder or smuggle a statement is refused', () => {
    for (const text of [
      'select 1; select 2',
      'select $$x$$',
      "select E'\\''",
      'select /* */ 1',
      "select 'open",
    ]) {
      assert.throws(() => inlineParameters(text, []), assert.AssertionError, text);
    }
    assert.throws(() => inlineParameters('select $2', [1]), /has no value/);
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, [1], { a: 1 }, Buffer.from('x'), 'a\u0000b']) {
      assert.throws(() => sqlLiteral(value), assert.AssertionError);
    }
  });
});
