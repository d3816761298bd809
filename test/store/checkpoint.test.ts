// SQLite: WAL checkpoints happen on a background thread, never inside a request's commit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import { createTestDatabase, dialect } from '../support/harness.ts';
import { migrate, openStore } from '../../src/store/db.ts';

test('commits never checkpoint; the background checkpointer copies the WAL back', { skip: dialect !== 'sqlite' && 'SQLite only' }, async () => {
  const db = await createTestDatabase();
  const store = openStore(db.url);
  try {
    await migrate(store);
    const { rows } = await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(store.db);
    assert.equal(rows[0].wal_autocheckpoint, 0, 'the request connection never checkpoints on commit');
    const before = store.checkpointed!();
    for (let i = 0; i < 300; i++) await store.db.insertInto('meta').values({ key: `k${i}`, value: 'x'.repeat(2000) }).execute();
    for (let i = 0; i < 40 && store.checkpointed!() === before; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(store.checkpointed!() > before, 'the background thread checkpointed the new frames');
  } finally {
    await store.close();
    await db.drop();
  }
});

test('under constant writes the WAL is rewound, so it stays small', { skip: dialect !== 'sqlite' && 'SQLite only' }, async () => {
  const db = await createTestDatabase();
  const store = openStore(db.url);
  try {
    await migrate(store);
    // 3,000 commits, about one a millisecond, as a busy server makes: a passive checkpoint is
    // never complete when the next one comes, so without a rewind the WAL only grows.
    const commits = 3000;
    for (let i = 0; i < commits; i++) {
      await store.db.insertInto('meta').values({ key: `w${i}`, value: 'x'.repeat(3500) }).execute();
      await new Promise((r) => setTimeout(r, 1));
    }
    // Frames in the WAL now: each commit wrote at least one; without a rewind all are still there.
    const other = new Database(db.url.replace(/^sqlite:/, ''));
    const [{ log }] = other.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
    other.close();
    assert.ok(log < commits, `${log} frames in the WAL after ${commits} commits`);
  } finally {
    await store.close();
    await db.drop();
  }
});
