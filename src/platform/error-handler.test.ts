import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toClientError } from './error-handler.ts';

describe('toClientError', () => {
  test('a deadlock or serialization failure is 503 TRANSACTION_CONFLICT, not 500 (issue 10 review: concurrent indicator imports)', () => {
    for (const code of ['40P01', '40001']) {
      const answered = toClientError(Object.assign(new Error('deadlock detected'), { code }));
      assert.deepEqual([answered.status, answered.code], [503, 'TRANSACTION_CONFLICT'], code);
    }
    const other = toClientError(Object.assign(new Error('duplicate key'), { code: '23505' }));
    assert.deepEqual([other.status, other.code], [500, 'INTERNAL_ERROR']);
  });
});
