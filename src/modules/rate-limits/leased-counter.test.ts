import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { LeasedCounter } from './leased-counter.ts';

/*
 * The leased Redis counters of the rate limits: never more than the maximum through, across
 * processes and concurrent requests; far fewer Redis calls than requests while far from it.
 */

const redisUrl = process.env.TEST_REDIS_URL;
const skip = redisUrl ? false : 'TEST_REDIS_URL is not set';

describe('LeasedCounter', { skip }, () => {
  const clients: Redis[] = [];
  let claims = 0;

  /** A process's counter on its own connection, counting its claims. */
  function processCounter(windowMs: number): LeasedCounter {
    const redis = new Redis(redisUrl ?? '');
    clients.push(redis);
    const counter = new LeasedCounter(redis, windowMs, 'corebank-test-leases:');
    const claim = (redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)
      .corebankRateLimitClaim;
    assert.ok(claim, 'the claim command is defined');
    Object.assign(redis, {
      corebankRateLimitClaim: (...args: unknown[]) => {
        claims += 1;
        return claim.apply(redis, args);
      },
    });
    return counter;
  }

  after(() => {
    for (const client of clients) client.disconnect();
  });

  test('two processes taking in turns let exactly the maximum through, then refuse', async () => {
    const [first, second] = [processCounter(60_000), processCounter(60_000)];
    const key = `turns:${randomUUID()}`;
    const shared = (counter: LeasedCounter) => counter.take(key, 20);
    const outcomes = [];
    for (let index = 0; index < 24; index += 1) outcomes.push(await shared(index % 2 ? second : first));
    assert.deepEqual(
      outcomes.map((outcome) => outcome.exceeded),
      [...Array(20).fill(false), true, true, true, true],
    );
    assert.ok(outcomes.every((outcome) => outcome.ttlMs > 0 && outcome.ttlMs <= 60_000));
  });

  test('a concurrent burst over three processes never lets more than the maximum through', async () => {
    const counters = [processCounter(60_000), processCounter(60_000), processCounter(60_000)];
    const key = `burst:${randomUUID()}`;
    const outcomes = await Promise.all(
      Array.from({ length: 600 }, (_, index) => (counters[index % 3] as LeasedCounter).take(key, 250)),
    );
    const allowed = outcomes.filter((outcome) => !outcome.exceeded).length;
    assert.ok(allowed <= 250, `${allowed} let through`);
    // Unspent leases may refuse a few early; never more than one lease per process.
    assert.ok(allowed >= 250 - 3 * 16, `${allowed} let through`);
  });

  test('far from the maximum, one Redis call serves many requests; near it every request claims', async () => {
    const counter = processCounter(60_000);
    const key = `calls:${randomUUID()}`;
    const before = claims;
    for (let index = 0; index < 1000; index += 1)
      assert.equal((await counter.take(key, 1_000_000)).exceeded, false);
    assert.ok(claims - before <= 10, `${claims - before} claims for 1000 requests`);
    const near = `near:${randomUUID()}`;
    const beforeNear = claims;
    for (let index = 0; index < 10; index += 1) await counter.take(near, 10);
    assert.equal(claims - beforeNear, 10, 'a limit of 10 claims each request');
    assert.equal((await counter.take(near, 10)).exceeded, true);
  });

  test('a burst in one process waits for the claim in flight instead of claiming again', async () => {
    const counter = processCounter(60_000);
    const key = `coalesced:${randomUUID()}`;
    const before = claims;
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => counter.take(key, 1_000_000)));
    assert.ok(outcomes.every((outcome) => !outcome.exceeded));
    assert.ok(claims - before <= 2, `${claims - before} claims for a burst of 50`);
  });

  test('the window ends: its leases with it, and the key counts again', async () => {
    const counter = processCounter(300);
    const key = `window:${randomUUID()}`;
    for (let index = 0; index < 3; index += 1) assert.equal((await counter.take(key, 3)).exceeded, false);
    assert.equal((await counter.take(key, 3)).exceeded, true);
    await sleep(350);
    assert.equal((await counter.take(key, 3)).exceeded, false);
  });

  test('regression (review): a claim that fails fails its waiters too, so the caller lets them all through', async () => {
    const redis = new Redis(redisUrl ?? '');
    clients.push(redis);
    const counter = new LeasedCounter(redis, 60_000, 'corebank-test-leases:');
    Object.assign(redis, {
      corebankRateLimitClaim: async () => {
        await sleep(20);
        throw new Error('Command timed out');
      },
    });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, () => counter.take(`down:${randomUUID().slice(0, 4)}same`, 10)),
    );
    const sameKey = await Promise.allSettled(
      Array.from({ length: 40 }, () => counter.take('down:one-key', 10)),
    );
    for (const settled of [...outcomes, ...sameKey])
      assert.equal(settled.status, 'rejected', 'every request reaches the fail-open path, none is refused');
  });

  test('regression (review): a request is refused at its own maximum even when another request of the key leased more', async () => {
    const counter = processCounter(60_000);
    const key = `mixed:${randomUUID()}`;
    assert.equal((await counter.take(key, 160)).exceeded, false, 'a 2x session claims a lease of 10');
    const low = await counter.take(key, 1);
    assert.equal(low.exceeded, true, 'a 1-request maximum is spent already');
    const second = await counter.take(key, 2);
    assert.equal(second.exceeded, false);
    assert.equal(second.remaining, 0);
  });
});
