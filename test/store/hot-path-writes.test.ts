// Hot-path writes (verify's UPDATE): on SQLite committed together per event-loop turn, on
// PostgreSQL batched per turn. Each caller still gets its own outcome, and none of them joins
// (or is rolled back with) a transaction another request has open.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import { createTestDatabase, dialect, type TestDatabase } from '../support/harness.ts';
import { migrate, openStore, type Store } from '../../src/store/db.ts';
import { prepared } from '../../src/store/prepared.ts';
import type { DB } from '../../src/store/schema.ts';
import { acceptAppStep, acceptQrStep } from '../../src/features/tokens/queries.ts';
import { randomUUID } from 'node:crypto';
import { CHECKED_TABLES, HOT_UPDATED_TABLES } from '../../src/store/migrations.ts';
import { takeCheck } from '../../src/features/phones/queries.ts';

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

const MATTERS = 15 * 60_000;
/** The user's highest used app step: the row's, or on SQLite a later one in the log of steps. */
const lastStep = async (id: number) => {
  const row = Number((await store.db.selectFrom('users').select('totp_last_step').where('id', '=', id).executeTakeFirstOrThrow()).totp_last_step);
  if (dialect !== 'sqlite') return row;
  const logged = (await store.db.selectFrom('accepted_app_steps').select((eb) => eb.fn.max('step').as('step')).where('user_id', '=', id).executeTakeFirstOrThrow()).step;
  return Math.max(row, logged ?? -Infinity);
};

test('writes made in one turn each get their own answer; a failing one fails alone', async () => {
  // A write that breaks a constraint (phone_index is NOT NULL), in the same turn as good ones.
  const breaking = prepared((d: Kysely<DB>, id: number) => d.updateTable('users').set({ phone_index: null as unknown as string }).where('id', '=', id));
  const results = await Promise.allSettled([
    acceptAppStep(store.db, { userId: users[0], step: 10, drift: 0, now: Date.now(), mattersMs: MATTERS }),
    breaking.run(store.db, users[1]),
    acceptAppStep(store.db, { userId: users[2], step: 10, drift: 1, now: Date.now(), mattersMs: MATTERS }),
    acceptAppStep(store.db, { userId: users[2], step: 10, drift: 1, now: Date.now(), mattersMs: MATTERS }),
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
    if (step === 21) accepted = acceptAppStep(store.db, { userId: users[3], step, drift: 0, now: Date.now(), mattersMs: MATTERS });
    const trx = doomedTransaction();
    await trx.inside;
    accepted ??= acceptAppStep(store.db, { userId: users[3], step, drift: 0, now: Date.now(), mattersMs: MATTERS });
    await new Promise((r) => setTimeout(r, 20)); // the write's turn has passed while the transaction is open
    trx.release();
    assert.equal(await trx.done, 'rolled back');
    assert.equal(await accepted, true);
    assert.equal(await lastStep(users[3]), step, 'the write stayed');
    assert.equal(await store.db.selectFrom('meta').select('key').where('key', '=', 'doomed').executeTakeFirst(), undefined);
  });
}

/** Every UPDATE of a users row from here on, noted by a trigger (one that changes nothing is not). */
async function noteUserWrites(): Promise<() => Promise<number[]>> {
  await sql`CREATE TABLE user_writes (user_id integer NOT NULL)`.execute(store.db);
  if (dialect === 'postgres') {
    await sql.raw(`CREATE FUNCTION note_user_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO user_writes VALUES (NEW.id); RETURN NEW; END $$`).execute(store.db);
    await sql`CREATE TRIGGER user_written AFTER UPDATE ON users FOR EACH ROW EXECUTE FUNCTION note_user_write()`.execute(store.db);
  } else {
    await sql`CREATE TRIGGER user_written AFTER UPDATE ON users BEGIN INSERT INTO user_writes VALUES (new.id); END`.execute(store.db);
  }
  return async () => (await store.db.selectFrom('user_writes' as never).select(sql<number>`user_id`.as('user_id')).execute()).map((r) => Number(r.user_id));
}

test('an accepted QR code writes the user row only when it changes it (unconfirmed, or wrong tokens counted)', async () => {
  const app = await store.db.selectFrom('applications').select('id').executeTakeFirstOrThrow();
  const [clean, unconfirmed, counted] = [users[0], users[1], users[2]];
  await store.db.updateTable('users').set({ confirmed: 1, verify_failures: 0, verify_window_start: null, verify_locked_until: null }).where('id', 'in', [clean, counted]).execute();
  await store.db.updateTable('users').set({ confirmed: 0 }).where('id', '=', unconfirmed).execute();
  await store.db.updateTable('users').set({ verify_failures: 2, verify_window_start: Date.now() }).where('id', '=', counted).execute();
  for (const [i, id] of [clean, unconfirmed, counted].entries()) {
    await store.db.insertInto('authenticators').values({ user_id: id, app_id: app.id, secret_sealed: 's', label: 'l', issuer: 'W', qr_token: `qr-${i}`, qr_size: 256, qr_expires_at: 1, created_at: 1 }).execute();
  }
  const writes = await noteUserWrites();
  const now = Date.now();
  const accepted = await Promise.all([clean, unconfirmed, counted].map((userId) => acceptQrStep(store.db, { userId, step: 100, drift: 0, now, mattersMs: MATTERS })));
  assert.deepEqual(accepted, [true, true, true]);
  assert.deepEqual((await writes()).sort(), [unconfirmed, counted].sort(), 'the clean, confirmed user was left as it was');
  const rows = await store.db.selectFrom('users').select(['id', 'confirmed', 'verify_failures', 'verify_window_start']).where('id', 'in', [clean, unconfirmed, counted]).orderBy('id').execute();
  for (const r of rows) assert.deepEqual({ ...r, verify_failures: Number(r.verify_failures) }, { id: r.id, confirmed: 1, verify_failures: 0, verify_window_start: null });
  // The step: in the authenticator's row, or on SQLite appended to the log of QR steps.
  const steps = await store.db.selectFrom('authenticators').select('last_step').where('user_id', 'in', [clean, unconfirmed, counted]).orderBy('user_id').execute();
  const logged = dialect === 'sqlite' ? await store.db.selectFrom('accepted_qr_steps').select(['user_id', 'step']).execute() : [];
  const used = (id: number, row: number | null) => Math.max(row ?? -Infinity, ...logged.filter((l) => l.user_id === id).map((l) => l.step));
  assert.deepEqual([clean, unconfirmed, counted].sort((a, b) => a - b).map((id, i) => used(id, steps[i].last_step === null ? null : Number(steps[i].last_step))), [100, 100, 100]);
});

test('PostgreSQL: the tables the hot paths update leave room on each page (updates stay on their page)', { skip: dialect !== 'postgres' }, async () => {
  const { rows } = await sql<{ relname: string; reloptions: string[] | null }>`SELECT relname, reloptions FROM pg_class WHERE relkind = 'r' AND relname = ANY(${HOT_UPDATED_TABLES})`.execute(store.db);
  assert.equal(rows.length, HOT_UPDATED_TABLES.length);
  for (const r of rows) assert.deepEqual(r.reloptions, [CHECKED_TABLES.includes(r.relname) ? 'fillfactor=50' : 'fillfactor=80'], r.relname);
});

test('PostgreSQL: checks of phone verifications written together each stay on their row\'s page', { skip: dialect !== 'postgres' }, async () => {
  // 400 pending verifications inserted at once fill their pages up to the fillfactor; a wrong check
  // of each, all in one turn (batched UPDATEs), must find room for its row's new version on the
  // same page: a HOT update, which adds no index entry. At 80% about two in three rows moved.
  const app = await store.db.insertInto('applications').values({ name: 'Checks', api_key_hash: randomUUID(), api_key_sealed: 'x', created_at: 0 }).returning('id').executeTakeFirstOrThrow();
  const now = Date.now();
  const inserted = await store.db
    .insertInto('phone_verifications')
    .values(Array.from({ length: 400 }, (_, i) => ({ uuid: randomUUID(), app_id: app.id, phone_index: `checks-${i}`, phone_sealed: 'x', via: 'sms' as const, code_sealed: 'x', locale: 'en', status: 'pending' as const, created_at: now, expires_at: now + 600_000, verified_at: null })))
    .returning('id')
    .execute();
  const ids = inserted.map((r) => r.id);
  const pages = async () => {
    const { rows } = await sql<{ id: number; page: number }>`SELECT id, (ctid::text::point)[0]::int AS page FROM phone_verifications WHERE id = ANY(${ids})`.execute(store.db);
    return new Map(rows.map((r) => [r.id, r.page]));
  };
  const before = await pages();
  const taken = await Promise.all(ids.map((id) => takeCheck(store.db, { id, max: 5 })));
  assert.deepEqual(taken.map((t) => t?.checks), ids.map(() => 1), 'each check counted once');
  const after = await pages();
  const moved = ids.filter((id) => after.get(id) !== before.get(id));
  assert.equal(moved.length, 0, `${moved.length} of ${ids.length} rows moved to another page`);
});
