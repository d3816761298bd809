// rate-limiter-flexible's counts over our store's connections (store/limiter-counts.ts): counts
// asked for at once (one turn) are written together, and each caller is answered exactly as if
// the counts had come one at a time, on both dialects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { createTestDatabase } from '../support/harness.ts';
import { migrate, openStore, type Store } from '../../src/store/db.ts';
import { limiters } from '../../src/features/tokens/limits.ts';

function limiterOn(store: Store, keyPrefix: string, points: number, duration: number): RateLimiterAbstract {
  const { storeType, client } = store.limiterClient;
  const opts = { storeClient: client, storeType, tableName: 'rate_limits', tableCreated: true, keyPrefix, points, duration, clearExpiredByTimeout: false };
  const { RateLimiterPostgres, RateLimiterSQLite } = limiters();
  return storeType === 'postgres' ? new RateLimiterPostgres(opts) : new RateLimiterSQLite(opts);
}

/** Every consume at once: each caller's count (consumedPoints), allowed or refused. */
async function consumeAtOnce(l: RateLimiterAbstract, keys: string[]): Promise<{ key: string; ok: boolean; n: number }[]> {
  return Promise.all(
    keys.map((key) =>
      l.consume(key).then(
        (r) => ({ key, ok: true, n: r.consumedPoints }),
        (r: RateLimiterRes) => {
          if (!(r instanceof limiters().RateLimiterRes)) throw r;
          return { key, ok: false, n: r.consumedPoints };
        },
      ),
    ),
  );
}

const sorted = (xs: number[]) => xs.slice().sort((a, b) => a - b);

/** A migrated store of a fresh database, closed and dropped whatever happens. */
async function withStore(f: (store: Store) => Promise<void>): Promise<void> {
  const db = await createTestDatabase();
  const store = openStore(db.url);
  try {
    await migrate(store);
    await f(store);
  } finally {
    await store.close();
    await db.drop();
  }
}

test('counts of one key at once: each caller gets its own running count, and exactly the allowance is granted', () =>
  withStore(async (store) => {
    const l = limiterOn(store, 'at-once', 5, 3600);
    const answers = await consumeAtOnce(l, Array(7).fill('k'));
    assert.deepEqual(sorted(answers.map((a) => a.n)), [1, 2, 3, 4, 5, 6, 7], 'each count told once, as one at a time');
    assert.equal(answers.filter((a) => a.ok).length, 5, 'the allowance, no more');
    assert.ok(answers.every((a) => a.ok === a.n <= 5));
    // Several keys in one turn, one of them counted before.
    const mixed = await consumeAtOnce(l, ['a', 'b', 'a', 'k', 'a', 'b']);
    assert.deepEqual(sorted(mixed.filter((a) => a.key === 'a').map((a) => a.n)), [1, 2, 3]);
    assert.deepEqual(sorted(mixed.filter((a) => a.key === 'b').map((a) => a.n)), [1, 2]);
    assert.deepEqual(mixed.filter((a) => a.key === 'k').map((a) => [a.ok, a.n]), [[false, 8]]);
    assert.equal((await l.get('a'))?.consumedPoints, 3, 'what is stored is the last count');
  }));

test('counts at once after the window ended: the window starts again with the first of them', () =>
  withStore(async (store) => {
    const l = limiterOn(store, 'window', 3, 1);
    assert.deepEqual(sorted((await consumeAtOnce(l, ['w', 'w', 'w', 'w'])).map((a) => a.n)), [1, 2, 3, 4]);
    await new Promise((r) => setTimeout(r, 1100));
    const again = await consumeAtOnce(l, ['w', 'w', 'w', 'w']);
    assert.deepEqual(sorted(again.map((a) => a.n)), [1, 2, 3, 4], 'counted from the start of a new window');
    assert.equal(again.filter((a) => a.ok).length, 3);
    const left = (await l.get('w'))!.msBeforeNext;
    assert.ok(left > 0 && left <= 1000, `the new window ends within its second (${left} ms)`);
  }));
