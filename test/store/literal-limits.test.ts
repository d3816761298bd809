// A LIMIT or OFFSET that is a number reaches SQLite as a literal (store/literal-limits.ts): a
// bound one makes SQLite parse and plan the statement again on every run. Limits given as an
// argument of a prepared query stay bound, and every form answers the same rows on both dialects.
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
before(async () => {
  db = await createTestDatabase();
  store = openStore(db.url);
  await migrate(store);
  appId = (await store.db.insertInto('applications').values({ name: 'L', api_key_hash: 'h', api_key_sealed: '', created_at: 1 }).returning('id').executeTakeFirstOrThrow()).id;
  for (let i = 0; i < 5; i++) {
    const u = await store.db.insertInto('users').values({ app_id: appId, country_code: 1, phone_index: `l${i}`, contact_sealed: '', confirmed: 1, created_at: i }).returning('id').executeTakeFirstOrThrow();
    ids.push(u.id);
  }
});
after(async () => {
  await store.close();
  await db.drop();
});

const newest = prepared((k: Kysely<DB>, app: number) => k.selectFrom('users').select('id').where('app_id', '=', app).orderBy('id', 'desc').limit(1));
const newestN = prepared((k: Kysely<DB>, app: number, n: number) => k.selectFrom('users').select('id').where('app_id', '=', app).orderBy('id', 'desc').limit(n));
const page = prepared((k: Kysely<DB>, app: number) => k.selectFrom('users').select('id').where('app_id', '=', app).orderBy('id').limit(2).offset(1));

test('a constant LIMIT and OFFSET are literals on SQLite; the answers are the same on both dialects', async () => {
  const one = newest.sqlOf(store.db, appId);
  const paged = page.sqlOf(store.db, appId);
  if (dialect === 'sqlite') {
    assert.match(one.sql, /limit 1$/);
    assert.deepEqual(one.params, [appId], 'the application is the only parameter');
    assert.match(paged.sql, /limit 2 offset 1$/);
    assert.deepEqual(paged.params, [appId]);
  } else {
    assert.match(one.sql, /limit \$2$/, 'PostgreSQL plans every statement anyway: unchanged');
  }
  assert.deepEqual(await newest.first(store.db, appId), { id: ids[4] });
  assert.deepEqual(await page.all(store.db, appId), [{ id: ids[1] }, { id: ids[2] }]);
});

test('a LIMIT given as an argument stays bound and takes each value it is given', async () => {
  const q = newestN.sqlOf(store.db, appId, 3);
  assert.deepEqual(q.params, [appId, 3]);
  assert.doesNotMatch(q.sql, /limit 3/);
  for (const n of [1, 3, 2]) assert.deepEqual(await newestN.all(store.db, appId, n), ids.slice(-n).reverse().map((id) => ({ id })), `limit ${n}`);
});

test('a query built on the spot (paging) keeps its numbers', async () => {
  const rows = await store.db.selectFrom('users').select('id').where('app_id', '=', appId).orderBy('id').limit(2).offset(3).execute();
  assert.deepEqual(rows, [{ id: ids[3] }, { id: ids[4] }]);
});
