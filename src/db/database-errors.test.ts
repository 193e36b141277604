import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { databaseUnavailable, transactionConflict } from './database-errors.ts';

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('databaseUnavailable (issue 7.9)', () => {
  test('names every network errno and the SQLSTATEs of a server that cannot serve', () => {
    for (const errno of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']) {
      assert.equal(databaseUnavailable(withCode(`connect ${errno}`, errno))?.errno, errno, errno);
    }
    for (const sqlstate of [
      '08000',
      '08001',
      '08003',
      '08006',
      '08P01',
      '57P01',
      '57P02',
      '57P03',
      '53300',
    ]) {
      assert.equal(databaseUnavailable(withCode('server said no', sqlstate))?.sqlstate, sqlstate, sqlstate);
    }
  });

  test('knows the driver messages that carry no code', () => {
    for (const message of [
      'Connection terminated unexpectedly',
      'Connection terminated due to connection timeout',
      'timeout exceeded when trying to connect',
      'Query read timeout',
      'Client has encountered a connection error and is not queryable',
      'Cannot use a pool after calling end on the pool',
    ]) {
      assert.ok(databaseUnavailable(new Error(message)), message);
    }
  });

  test('looks through causes and AggregateError (a host with an IPv4 and an IPv6 address)', () => {
    const wrapped = new Error('Connection failed', {
      cause: withCode('connect ECONNREFUSED', 'ECONNREFUSED'),
    });
    assert.equal(databaseUnavailable(wrapped)?.errno, 'ECONNREFUSED');
    const both = new AggregateError([withCode('a', 'ECONNREFUSED'), withCode('b', 'ENETUNREACH')]);
    assert.equal(databaseUnavailable(both)?.errno, 'ECONNREFUSED');
  });

  test('57014 is ours only when our statement_timeout cancelled the query', () => {
    assert.ok(databaseUnavailable(withCode('canceling statement due to statement timeout', '57014')));
    assert.equal(
      databaseUnavailable(withCode('canceling statement due to user request', '57014')),
      undefined,
    );
  });

  test('bugs and rejected statements stay what they are', () => {
    for (const sqlstate of ['23505', '22012', '42P01', '40001', '23514']) {
      // A constraint message that happens to quote a driver phrase is still the constraint.
      const error = withCode('Connection terminated unexpectedly (quoted)', sqlstate);
      assert.equal(databaseUnavailable(error), undefined, sqlstate);
    }
    assert.equal(databaseUnavailable(new TypeError('x is undefined')), undefined);
    assert.equal(databaseUnavailable('ECONNREFUSED'), undefined);
    assert.equal(databaseUnavailable(null), undefined);
  });
});

describe('transactionConflict (issue 10 review: a deadlocked import answered 500)', () => {
  test('names a deadlock and a serialization failure, also behind a cause, and nothing else', () => {
    assert.equal(transactionConflict(withCode('deadlock detected', '40P01')), '40P01');
    assert.equal(transactionConflict(withCode('could not serialize access', '40001')), '40001');
    const wrapped = new Error('query failed', { cause: withCode('deadlock detected', '40P01') });
    assert.equal(transactionConflict(wrapped), '40P01');
    for (const sqlstate of ['23505', '57P01', '08006']) {
      assert.equal(transactionConflict(withCode('other', sqlstate)), undefined, sqlstate);
    }
    assert.equal(transactionConflict(null), undefined);
  });
});
