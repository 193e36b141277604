import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../../platform/errors.ts';
import { type GroupCommitOptions, GroupCommitter } from './group-commit.ts';

const options: GroupCommitOptions = {
  windowMs: 0,
  requestsPerGroupMax: 10,
  groupsInFlightMax: 1,
  queuedRequestsMax: 100,
  queueWaitMsMax: 5_000,
  attemptsMax: 3,
};

describe('GroupCommitter', () => {
  test('concurrent requests share a group and each gets its own result, in order', async () => {
    const groups: number[][] = [];
    const committer = new GroupCommitter<number, number>(async (_key, requests) => {
      groups.push([...requests]);
      return requests.map((request) => request * 10);
    }, options);
    assert.deepEqual(await Promise.all([1, 2, 3].map((id) => committer.submit('t', id))), [10, 20, 30]);
    assert.deepEqual(groups, [[1, 2, 3]]);
  });

  test('a request queued longer than the wait bound is refused with TRANSACTION_CONFLICT; drained() still resolves', async () => {
    const committer = new GroupCommitter<number, number>(
      async (_key, requests) => {
        await sleep(60);
        return [...requests];
      },
      { ...options, queueWaitMsMax: 20, requestsPerGroupMax: 1 },
    );
    const first = committer.submit('t', 1);
    const second = committer.submit('t', 2);
    await assert.rejects(
      second,
      (error) => error instanceof AppError && error.code === 'TRANSACTION_CONFLICT',
    );
    assert.equal(await first, 1);
    await committer.drained();
  });

  test('a failing call is split into single posts, but an unavailable database is not (each would wait again)', async () => {
    const calls: number[] = [];
    const failing =
      (error: Error) =>
      async (_key: string, requests: readonly number[]): Promise<number[]> => {
        calls.push(requests.length);
        throw error;
      };
    const bug = new GroupCommitter<number, number>(failing(new Error('a bug')), options);
    for (const result of [1, 2, 3].map((id) => bug.submit('t', id))) await assert.rejects(result);
    assert.deepEqual(calls, [3, 1, 1, 1]);
    calls.length = 0;
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const down = new GroupCommitter<number, number>(failing(refused), options);
    for (const result of [1, 2, 3].map((id) => down.submit('t', id))) {
      await assert.rejects(result, (error) => error === refused);
    }
    assert.deepEqual(calls, [3]);
  });
});
