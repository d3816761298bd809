// The constants a prepared query is built with reach SQLite as literals (store/sqlite-literals.ts):
// a bound LIMIT, or a bound value beside a partial index's condition, makes SQLite parse and plan
// the statement again on every run. A query's arguments stay bound, and every form answers the
// same rows on both dialects.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { createTestDatabase, dialect, type TestDatabase } from '../support/harness.ts';
import { migrate, openStore, type Store } from '../../src/store/db.ts';
import { prepared } from '../../src/store/prepared.ts';
import type { DB } from '../../src/store/schema.ts';

let db: TestDatabase;
let store: Store;
let appId: number;
const ids: number[] = [];
const QUOTED = "o'clock";
before(async () => {
  db = await createTestDatabase();
  store = openStore(db.url);
  await migrate(store);
  appId = (await store.db.insertInto('applications').values({ name: 'L', api_key_hash: 'h', api_key_sealed: '', created_at: 1 }).returning('id').executeTakeFirstOrThrow()).id;
  for (let i = 0; i < 5; i++) {
    const phone = i === 2 ? QUOTED : `l${i}`;
    ids.push((await store.db.insertInto('users').values({ app_id: appId, country_code: 1, phone_index: phone, contact_sealed: '', confirmed: i % 2, created_at: i }).returning('id').executeTakeFirstOrThrow()).id);
  }
});
after(async () => {
  await store.close();
  await db.drop();
});

const newest = prepared((k: Kysely<DB>, app: number) => k.selectFrom('users').select('id').where('app_id', '=', app).orderBy('id', 'desc').limit(1));
const newestN = prepared((k: Kysely<DB>, app: number, n: number) => k.selectFrom('users').select('id').where('app_id', '=', app).orderBy('id', 'desc').limit(n));
const page = prepared((k: Kysely<DB>, app: number) => k.selectFrom('users').select('id').where('app_id', '=', app).orderBy('id').limit(2).offset(1));
const quoted = prepared((k: Kysely<DB>, app: number) => k.selectFrom('users').select('id').where('app_id', '=', app).where('phone_index', '=', QUOTED).where('confirmed', '=', 0));
const confirm = prepared((k: Kysely<DB>, id: number) => k.updateTable('users').set({ confirmed: 1 }).where('id', '=', id).where('confirmed', '=', 0));

test('constants are literals on SQLite (a quote escaped); PostgreSQL keeps them bound; the answers are the same', async () => {
  const one = newest.sqlOf(store.db, appId);
  const paged = page.sqlOf(store.db, appId);
  const q = quoted.sqlOf(store.db, appId);
  if (dialect === 'sqlite') {
    assert.match(one.sql, /limit 1$/);
    assert.deepEqual(one.params, [appId], 'the application is the only parameter');
    assert.match(paged.sql, /limit 2 offset 1$/);
    assert.match(q.sql, /"phone_index" = 'o''clock' and "confirmed" = 0$/);
    assert.deepEqual(q.params, [appId]);
  } else {
    assert.match(one.sql, /limit \$2$/);
    assert.deepEqual(q.params, [appId, QUOTED, 0]);
  }
  assert.deepEqual(await newest.first(store.db, appId), { id: ids[4] });
  assert.deepEqual(await page.all(store.db, appId), [{ id: ids[1] }, { id: ids[2] }]);
  assert.deepEqual(await quoted.all(store.db, appId), [{ id: ids[2] }]);
  assert.equal(await confirm.run(store.db, ids[2]), 1);
  assert.equal(await confirm.run(store.db, ids[2]), 0, 'the constant in its condition holds');
  assert.deepEqual(await quoted.all(store.db, appId), []);
});

test('a LIMIT given as an argument stays bound and takes each value it is given', async () => {
  const q = newestN.sqlOf(store.db, appId, 3);
  assert.deepEqual(q.params, [appId, 3]);
  assert.doesNotMatch(q.sql, /limit 3/);
  for (const n of [1, 3, 2]) assert.deepEqual(await newestN.all(store.db, appId, n), ids.slice(-n).reverse().map((id) => ({ id })), `limit ${n}`);
});
