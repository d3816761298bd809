// SQLite: the requests of one event-loop turn read in one snapshot (store/read-turn.ts). A
// request must still see everything committed before it arrived, by any connection, and nothing
// else run on the connection may join that snapshot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { createTestDatabase, dialect, type TestDatabase } from '../support/harness.ts';
import { migrate, openStore, type Store } from '../../src/store/db.ts';
import { acceptAppStep } from '../../src/features/tokens/queries.ts';
import { findUser } from '../../src/features/users/queries.ts';

const sqliteOnly = { skip: dialect !== 'sqlite' && 'SQLite only: PostgreSQL reads take no lock each' };
let db: TestDatabase;
let store: Store;
/** Another connection to the same file, as the CLI or a second process would have. */
let other: Database.Database;
let appId: number;
let userId: number;

before(async () => {
  if (dialect !== 'sqlite') return;
  db = await createTestDatabase();
  store = openStore(db.url);
  await migrate(store);
  other = new Database(db.url.replace(/^sqlite:/, ''));
  other.pragma('busy_timeout = 5000');
  const app = await store.db.insertInto('applications').values({ name: 'T', api_key_hash: 'h', api_key_sealed: '', created_at: 1 }).returning('id').executeTakeFirstOrThrow();
  appId = app.id;
  const u = await store.db
    .insertInto('users')
    .values({ app_id: appId, country_code: 1, phone_index: 'i', contact_sealed: 'before@example.com', confirmed: 0, created_at: 1 })
    .returning('id')
    .executeTakeFirstOrThrow();
  userId = u.id;
});
after(async () => {
  if (dialect !== 'sqlite') return;
  other.close();
  await store.close();
  await db.drop();
});

const emailFromOther = (email: string) => other.prepare('UPDATE users SET contact_sealed = ? WHERE id = ?').run(email, userId);
const emailRead = async () => (await findUser(store.db, appId, userId))?.contact_sealed;
/** The highest app step the user used: the row's, or a later one appended (store/accepted-steps.ts). */
const usedStepFromOther = () =>
  other.prepare('SELECT max(coalesce(totp_last_step, 0), coalesce((SELECT max(step) FROM accepted_app_steps WHERE user_id = users.id), 0)) FROM users WHERE id = ?').pluck().get(userId);

test('a turn reads in one snapshot; the next turn sees what another connection committed meanwhile', sqliteOnly, async () => {
  emailFromOther('a@example.com');
  await store.readTurn!();
  assert.equal(await emailRead(), 'a@example.com', 'committed before the turn: seen');
  emailFromOther('b@example.com');
  assert.equal(await emailRead(), 'a@example.com', 'the same turn keeps its snapshot');
  await store.readTurn!();
  assert.equal(await emailRead(), 'b@example.com', 'the next turn has a new snapshot');
  // Outside a turn every read is its own snapshot.
  await new Promise((r) => setTimeout(r, 5));
  emailFromOther('c@example.com');
  assert.equal(await emailRead(), 'c@example.com');
});

test('a query, a transaction or a write run during a turn ends its snapshot first', sqliteOnly, async () => {
  emailFromOther('d@example.com');
  await store.readTurn!();
  assert.equal(await emailRead(), 'd@example.com');
  emailFromOther('e@example.com');
  const viaKysely = await store.db.selectFrom('users').select('contact_sealed').where('id', '=', userId).executeTakeFirstOrThrow();
  assert.equal(viaKysely.contact_sealed, 'e@example.com', 'a Kysely query does not read in the turn snapshot');
  assert.equal(await emailRead(), 'e@example.com', 'and the reads after it take a new one');

  // A transaction begun while the snapshot is open (it would fail to begin inside it), and a
  // hot-path write asked for in the same turn.
  await store.readTurn!();
  await emailRead();
  const [inserted, accepted] = await Promise.all([
    store.db.transaction().execute(async (trx) => {
      await trx.insertInto('meta').values({ key: 'in-turn', value: 'x' }).execute();
      return 'committed';
    }),
    acceptAppStep(store.db, { userId, step: 42, drift: 0, now: Date.now(), mattersMs: 15 * 60_000 }),
  ]);
  assert.equal(inserted, 'committed');
  assert.equal(accepted, true);
  assert.equal(usedStepFromOther(), 42, 'the write is committed, visible to another connection');
  assert.equal(other.prepare("SELECT value FROM meta WHERE key = 'in-turn'").pluck().get(), 'x');
});

test('many turns in a row, each with reads and writes, leave no transaction open', sqliteOnly, async () => {
  for (let i = 0; i < 50; i++) {
    await store.readTurn!();
    await Promise.all([emailRead(), acceptAppStep(store.db, { userId, step: 100 + i, drift: 0, now: Date.now(), mattersMs: 15 * 60_000 }), emailRead()]);
  }
  await new Promise((r) => setTimeout(r, 5));
  // Another connection can take the write lock at once: nobody holds a transaction.
  other.pragma('busy_timeout = 0');
  assert.doesNotThrow(() => other.exec('BEGIN IMMEDIATE; COMMIT'));
  other.pragma('busy_timeout = 5000');
  assert.equal(usedStepFromOther(), 149);
});
