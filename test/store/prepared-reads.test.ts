// Prepared hot-path reads answer exactly what the same query answers through Kysely (on SQLite
// they run directly and build their rows from raw arrays; see store/db.ts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../support/harness.ts';
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
  appId = (await store.db.insertInto('applications').values({ name: 'R', api_key_hash: 'h', api_key_sealed: '', created_at: 1 }).returning('id').executeTakeFirstOrThrow()).id;
  for (const [i, email] of ['a@example.com', 'b@example.com', 'c@example.com'].entries()) {
    const u = await store.db
      .insertInto('users')
      .values({ app_id: appId, country_code: 44, phone_index: `i${i}`, contact_sealed: email, confirmed: i % 2, created_at: 1000 + i, totp_last_step: i === 1 ? null : 59_000_000 + i })
      .returning('id')
      .executeTakeFirstOrThrow();
    ids.push(u.id);
  }
});
after(async () => {
  await store.close();
  await db.drop();
});

// Aliases, a quote in a name, NULLs from a LEFT JOIN that found nothing, a computed column, and
// a name given twice (the later value wins, as in any row object).
const shaped = (d: Kysely<DB>, app: number) =>
  d
    .selectFrom('users')
    .leftJoin('authenticators', 'authenticators.user_id', 'users.id')
    .select([
      'users.id',
      'users.contact_sealed as mail',
      'users.totp_last_step',
      'authenticators.secret_sealed as qr',
      sql<number>`users.created_at + 1`.as('odd "name"'),
      sql<number>`1`.as('twice'),
      sql<number>`2`.as('twice'),
    ])
    .where('users.app_id', '=', app)
    .orderBy('users.id');
const all = prepared((d: Kysely<DB>, app: number) => shaped(d, app));
const one = prepared((d: Kysely<DB>, app: number, id: number) => shaped(d, app).where('users.id', '=', id));

test('a prepared read answers what Kysely answers: names, aliases, NULLs, repeated names', async () => {
  const expected = await shaped(store.db, appId).execute();
  assert.equal(expected.length, 3);
  assert.deepEqual(await all.all(store.db, appId), expected);
  for (const [i, id] of ids.entries()) assert.deepEqual(await one.first(store.db, appId, id), expected[i]);
  const row = (await one.first(store.db, appId, ids[1])) as Record<string, unknown>;
  assert.equal(row.mail, 'b@example.com');
  assert.equal(row.totp_last_step, null);
  assert.equal(row.qr, null);
  assert.equal(Number(row['odd "name"']), 1002);
  assert.equal(Number(row.twice), 2);
  assert.equal(await one.first(store.db, appId, -1), undefined, 'no row: undefined');
  assert.deepEqual(await all.all(store.db, appId + 1), [], 'no rows: empty');
});
