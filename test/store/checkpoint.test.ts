// SQLite: WAL checkpoints happen on a background thread, never inside a request's commit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
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
