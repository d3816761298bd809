// Closing a store twice (a command's error path and its `finally`) resolves both times: a second
// close once waited forever on the checkpoint thread's exit, and the process then ended with
// status 0 however the command had failed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase } from '../support/harness.ts';
import { migrate, openStore } from '../../src/store/db.ts';

test('a store closes twice without hanging', async () => {
  const db = await createTestDatabase();
  try {
    const store = openStore(db.url);
    await migrate(store);
    await store.close();
    await store.close();
    assert.ok(true, 'both closes resolved');
  } finally {
    await db.drop();
  }
});
