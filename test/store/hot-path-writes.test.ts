// Hot-path writes (verify's UPDATE): on SQLite committed together per event-loop turn, on
// PostgreSQL batched per turn. Each caller still gets its own outcome, and none of them joins
// (or is rolled back with) a transaction another request has open.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../support/harness.ts';
import { migrate, openStore, type Store } from '../../src/store/db.ts';
import { prepared } from '../../src/store/prepared.ts';
import type { DB } from '../../src/store/schema.ts';
import { acceptAppStep } from '../../src/features/tokens/queries.ts';

let db: TestDatabase;
let store: Store;
const users: number[] = [];
before(async () => {
  db = await createTestDatabase();
  store = openStore(db.url);
  await migrate(store);
  const app = await store.db.insertInto('applications').values({ name: 'W', api_key_hash: 'h', api_key_sealed: '', created_at: 1 }).returning('id').executeTakeFirstOrThrow();
  for (let i = 0; i < 4; i++) {
    const u = await store.db
      .insertInto('users')
      .values({ app_id: app.id, country_code: 1, phone_index: `+1415555018${i}`, contact_sealed: `w${i}@example.com`, confirmed: 0, created_at: 1 })
      .returning('id')
      .executeTakeFirstOrThrow();
    users.push(u.id);
  }
});
after(async () => {
  await store.close();
  await db.drop();
});

const lastStep = async (id: number) => (await store.db.selectFrom('users').select('totp_last_step').where('id', '=', id).executeTakeFirstOrThrow()).totp_last_step;

test('writes made in one turn each get their own answer; a failing one fails alone', async () => {
  // A write that breaks a constraint (phone_index is NOT NULL), in the same turn as good ones.
  const breaking = prepared((d: Kysely<DB>, id: number) => d.updateTable('users').set({ phone_index: null as unknown as string }).where('id', '=', id));
  const results = await Promise.allSettled([
    acceptAppStep(store.db, { userId: users[0], step: 10, drift: 0, now: Date.now() }),
    breaking.run(store.db, users[1]),
    acceptAppStep(store.db, { userId: users[2], step: 10, drift: 1, now: Date.now() }),
    acceptAppStep(store.db, { userId: users[2], step: 10, drift: 1, now: Date.now() }),
  ]);
  assert.deepEqual(results[0], { status: 'fulfilled', value: true });
  assert.equal(results[1].status, 'rejected');
  const third = [results[2], results[3]].map((r) => (r.status === 'fulfilled' ? r.value : r.reason));
  assert.deepEqual(third.sort(), [false, true], 'the same step twice: accepted once');
  assert.equal(await lastStep(users[0]), 10);
  assert.equal(await lastStep(users[2]), 10);
  assert.equal((await store.db.selectFrom('users').select('phone_index').where('id', '=', users[1]).executeTakeFirstOrThrow()).phone_index, '+14155550181');
});

/** A transaction that spans an await, as a request's does, and is rolled back in the end. */
function doomedTransaction() {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let begun!: () => void;
  const inside = new Promise<void>((r) => (begun = r));
  const done = store.db
    .transaction()
    .execute(async (trx) => {
      await trx.insertInto('meta').values({ key: 'doomed', value: 'x' }).execute();
      begun();
      await gate;
      throw new Error('rolled back');
    })
    .catch((e: Error) => e.message);
  return { inside, release, done };
}

for (const order of ['asked while the transaction is open', 'asked just before the transaction began, committed while it is open'] as const) {
  test(`a hot-path write ${order} is not rolled back with it`, async () => {
    const step = order.startsWith('asked while') ? 20 : 21;
    let accepted: Promise<boolean> | undefined;
    if (step === 21) accepted = acceptAppStep(store.db, { userId: users[3], step, drift: 0, now: Date.now() });
    const trx = doomedTransaction();
    await trx.inside;
    accepted ??= acceptAppStep(store.db, { userId: users[3], step, drift: 0, now: Date.now() });
    await new Promise((r) => setTimeout(r, 20)); // the write's turn has passed while the transaction is open
    trx.release();
    assert.equal(await trx.done, 'rolled back');
    assert.equal(await accepted, true);
    assert.equal(await lastStep(users[3]), step, 'the write stayed');
    assert.equal(await store.db.selectFrom('meta').select('key').where('key', '=', 'doomed').executeTakeFirst(), undefined);
  });
}
