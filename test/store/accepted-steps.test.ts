// SQLite keeps the app-TOTP and QR-authenticator steps users have used as appended rows, each
// process remembering them from the table (store/accepted-steps.ts), not in the user's or the
// authenticator's row. Replay rejection must stay exact: across connections (processes) on the
// same file, across a restart, and after old rows go. Every test runs for both factors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { dialect } from '../support/harness.ts';
import { sqliteStoreWithApp } from '../support/sqlite-store.ts';
import { openStore, type Store } from '../../src/store/db.ts';
import { acceptAppStep, acceptQrStep, useSentCode } from '../../src/features/tokens/queries.ts';

const sqliteOnly = { skip: dialect !== 'sqlite' && 'SQLite only: PostgreSQL keeps the step in the row' };
const MATTERS = 15 * 60_000;
const t = sqliteStoreWithApp('S');

let phones = 0;
/**
 * How each factor keeps its steps: the function that accepts one, its table, and the row a
 * new clock offset is written to (`step` and `drift` read back from it).
 */
const factors = {
  app: {
    acceptStep: acceptAppStep,
    table: 'accepted_app_steps',
    offsetRow: async (id: number) => {
      const r = await t.store.db.selectFrom('users').select(['totp_last_step', 'totp_drift']).where('id', '=', id).executeTakeFirstOrThrow();
      return { step: r.totp_last_step, drift: r.totp_drift };
    },
  },
  qr: {
    acceptStep: acceptQrStep,
    table: 'accepted_qr_steps',
    offsetRow: async (id: number) => {
      const r = await t.store.db.selectFrom('authenticators').select(['last_step', 'drift']).where('user_id', '=', id).executeTakeFirstOrThrow();
      return { step: r.last_step, drift: r.drift };
    },
  },
} as const;

for (const [name, f] of Object.entries(factors)) {
  /** A confirmed user with a QR authenticator, no wrong token counted, drift 0: what most verifying users are. */
  const newUser = async (s: Store = t.store) => {
    const id = (
      await s.db
        .insertInto('users')
        .values({ app_id: t.appId, country_code: 1, phone_index: `p${phones++}`, contact_sealed: 'c', confirmed: 1, created_at: 1 })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
    await s.db.insertInto('authenticators').values({ user_id: id, app_id: t.appId, secret_sealed: 's', label: 'l', issuer: 'S', qr_token: `qr-${id}`, qr_size: 256, qr_expires_at: 1, created_at: 1 }).execute();
    return id;
  };
  const accept = (s: Store, userId: number, step: number, now = Date.now(), drift = 0) => f.acceptStep(s.db, { userId, step, drift, now, mattersMs: MATTERS });
  const rows = async (userId: number) =>
    (await t.store.db.selectFrom(f.table as 'accepted_app_steps').select('step').where('user_id', '=', userId).orderBy('seq').execute()).map((r) => r.step);

  test(`${name}: a used step is appended, no row of a confirmed user with a steady clock is written, and a replay is refused`, sqliteOnly, async () => {
    const id = await newUser();
    await sql`CREATE TABLE row_writes (tbl text NOT NULL)`.execute(t.store.db);
    await sql`CREATE TRIGGER user_written AFTER UPDATE ON users BEGIN INSERT INTO row_writes VALUES ('users'); END`.execute(t.store.db);
    await sql`CREATE TRIGGER authenticator_written AFTER UPDATE ON authenticators BEGIN INSERT INTO row_writes VALUES ('authenticators'); END`.execute(t.store.db);
    const written = async () => (await sql<{ tbl: string }>`SELECT tbl FROM row_writes ORDER BY rowid`.execute(t.store.db)).rows.map((r) => r.tbl);
    try {
      assert.equal(await accept(t.store, id, 100), true);
      assert.equal(await accept(t.store, id, 100), false, 'the same step again');
      assert.equal(await accept(t.store, id, 99), false, 'an older step');
      assert.equal(await accept(t.store, id, 101), true, 'a later step');
      assert.deepEqual(await rows(id), [100, 101]);
      assert.deepEqual(await written(), [], 'the user and its authenticator were left as they were');
      // A new clock offset is kept in the factor's row: then the step goes there, and the row
      // and the log together refuse what either has seen.
      assert.equal(await accept(t.store, id, 103, Date.now(), 2), true);
      assert.deepEqual(await f.offsetRow(id), { step: 103, drift: 2 });
      assert.deepEqual(await written(), [name === 'app' ? 'users' : 'authenticators']);
      assert.deepEqual(await rows(id), [100, 101]);
      assert.equal(await accept(t.store, id, 103, Date.now(), 2), false);
      assert.equal(await accept(t.store, id, 102, Date.now(), 2), false);
      assert.equal(await accept(t.store, id, 104, Date.now(), 2), true);
      assert.deepEqual(await rows(id), [100, 101, 104]);
    } finally {
      await sql`DROP TRIGGER user_written`.execute(t.store.db);
      await sql`DROP TRIGGER authenticator_written`.execute(t.store.db);
      await sql`DROP TABLE row_writes`.execute(t.store.db);
    }
  });

  test(`${name}: a step of an unconfirmed user, or one with wrong tokens counted, confirms it and clears them`, sqliteOnly, async () => {
    const [unconfirmed, counted] = [await newUser(), await newUser()];
    await t.store.db.updateTable('users').set({ confirmed: 0 }).where('id', '=', unconfirmed).execute();
    await t.store.db.updateTable('users').set({ verify_failures: 3, verify_window_start: Date.now() }).where('id', '=', counted).execute();
    assert.deepEqual(await Promise.all([accept(t.store, unconfirmed, 40), accept(t.store, counted, 40)]), [true, true]);
    const after = await t.store.db.selectFrom('users').select(['confirmed', 'verify_failures', 'verify_window_start']).where('id', 'in', [unconfirmed, counted]).execute();
    assert.deepEqual(after, [0, 1].map(() => ({ confirmed: 1, verify_failures: 0, verify_window_start: null })));
    assert.equal(await accept(t.store, unconfirmed, 40), false);
    assert.equal(await accept(t.store, counted, 40), false);
  });

  test(`${name}: another connection on the file (another process) refuses what this one accepted, and the other way round`, sqliteOnly, async () => {
    const other = openStore(t.db.url);
    try {
      const id = await newUser();
      // Both have read the table before: each must look again for what the other appended since.
      assert.equal(await accept(t.store, id, 10), true);
      assert.equal(await accept(other, id, 10), false);
      assert.equal(await accept(other, id, 11), true);
      assert.equal(await accept(t.store, id, 11), false);
      assert.equal(await accept(t.store, id, 10), false);
      // Copies of two steps at once on both: step 13 accepted exactly once; 12 at most once (only
      // if it came first: a later step is still new after it).
      const results = await Promise.all([12, 12, 13, 13].flatMap((step) => [accept(t.store, id, step), accept(other, id, step)]));
      assert.ok(results.slice(0, 4).filter(Boolean).length <= 1, String(results));
      assert.equal(results.slice(4).filter(Boolean).length, 1, String(results));
      assert.equal(await accept(other, id, 13), false);
    } finally {
      await other.close();
    }
  });

  test(`${name}: a restarted process still refuses steps used before it started`, sqliteOnly, async () => {
    const id = await newUser();
    assert.equal(await accept(t.store, id, 50), true);
    const restarted = openStore(t.db.url);
    try {
      assert.equal(await accept(restarted, id, 50), false);
      assert.equal(await accept(restarted, id, 49), false);
      assert.equal(await accept(restarted, id, 51), true);
    } finally {
      await restarted.close();
    }
  });

  test(`${name}: a locked user is refused, and nothing is appended`, sqliteOnly, async () => {
    const id = await newUser();
    await t.store.db.updateTable('users').set({ verify_locked_until: Date.now() + 60_000 }).where('id', '=', id).execute();
    assert.equal(await accept(t.store, id, 70), false);
    assert.deepEqual(await rows(id), []);
  });

  test(`${name}: rows go once they can no longer refuse a token; those that can stay`, sqliteOnly, async () => {
    // A store of its own, so its clock (the `now` given) starts here.
    const own = openStore(t.db.url);
    try {
      const id = await newUser();
      const t0 = Date.now();
      const short = (step: number, now: number) => f.acceptStep(own.db, { userId: id, step, drift: 0, now, mattersMs: 1000 });
      assert.equal(await short(1, t0), true);
      assert.equal(await short(2, t0 + 61_000), true);
      assert.equal(await short(3, t0 + 122_000), true);
      assert.deepEqual(await rows(id), [2, 3], 'the first row, older than its reach at the last look, is gone');
      assert.equal(await short(3, t0 + 122_500), false, 'the newest is still refused');
    } finally {
      await own.close();
    }
  });
}

// Sent codes: each one's single use is appended (used_sent_codes), the code's row left as it was.
const CODE_MATTERS = 61 * 60_000;
let codeHashes = 0;
const newCode = async (userId: number, ttlMs = 10 * 60_000) =>
  (
    await t.store.db
      .insertInto('sent_codes')
      .values({ app_id: t.appId, user_id: userId, channel: 'sms', code_hash: `h${codeHashes++}`, action: null, created_at: Date.now(), expires_at: Date.now() + ttlMs })
      .returning('id')
      .executeTakeFirstOrThrow()
  ).id;
const codeUser = async () =>
  (await t.store.db.insertInto('users').values({ app_id: t.appId, country_code: 1, phone_index: `p${phones++}`, contact_sealed: 'c', confirmed: 1, created_at: 1 }).returning('id').executeTakeFirstOrThrow()).id;
const useCode = (s: Store, id: number, userId: number, now = Date.now(), mattersMs = CODE_MATTERS) => useSentCode(s.db, { id, userId, now, mattersMs });
const usedMarks = async (id: number) => (await t.store.db.selectFrom('used_sent_codes').select('seq').where('code_id', '=', id).execute()).length;
const usedAt = async (id: number) => (await t.store.db.selectFrom('sent_codes').select('used_at').where('id', '=', id).executeTakeFirstOrThrow()).used_at;

test('code: a used code is appended, its row and its confirmed user left as they were, and a second use is refused on any connection', sqliteOnly, async () => {
  const userId = await codeUser();
  const [a, b] = [await newCode(userId), await newCode(userId)];
  await sql`CREATE TABLE row_writes (tbl text NOT NULL)`.execute(t.store.db);
  await sql`CREATE TRIGGER user_written AFTER UPDATE ON users BEGIN INSERT INTO row_writes VALUES ('users'); END`.execute(t.store.db);
  await sql`CREATE TRIGGER code_written AFTER UPDATE ON sent_codes BEGIN INSERT INTO row_writes VALUES ('sent_codes'); END`.execute(t.store.db);
  const other = openStore(t.db.url);
  try {
    assert.equal(await useCode(t.store, a, userId), 'used');
    assert.equal(await useCode(t.store, a, userId), false, 'the same code again');
    assert.equal(await useCode(other, a, userId), false, 'the same code on another connection');
    assert.equal(await useCode(other, b, userId), 'used', 'another code of the same user');
    assert.equal(await useCode(t.store, b, userId), false);
    assert.deepEqual([await usedMarks(a), await usedMarks(b)], [1, 1]);
    assert.deepEqual((await sql<{ tbl: string }>`SELECT tbl FROM row_writes`.execute(t.store.db)).rows, [], 'no row written');
    // Copies of one code at once on both connections: used exactly once.
    const c = await newCode(userId);
    const results = await Promise.all([1, 2, 3].flatMap(() => [useCode(t.store, c, userId), useCode(other, c, userId)]));
    assert.equal(results.filter(Boolean).length, 1, String(results));
  } finally {
    await other.close();
    await sql`DROP TRIGGER user_written`.execute(t.store.db);
    await sql`DROP TRIGGER code_written`.execute(t.store.db);
    await sql`DROP TABLE row_writes`.execute(t.store.db);
  }
});

test('code: a restarted process still refuses a code used before it started', sqliteOnly, async () => {
  const userId = await codeUser();
  const a = await newCode(userId);
  assert.equal(await useCode(t.store, a, userId), 'used');
  const restarted = openStore(t.db.url);
  try {
    assert.equal(await useCode(restarted, a, userId), false);
  } finally {
    await restarted.close();
  }
});

test('code: a locked user uses nothing; an unconfirmed one is confirmed by its code', sqliteOnly, async () => {
  const [locked, unconfirmed] = [await codeUser(), await codeUser()];
  await t.store.db.updateTable('users').set({ verify_locked_until: Date.now() + 60_000 }).where('id', '=', locked).execute();
  await t.store.db.updateTable('users').set({ confirmed: 0, verify_failures: 2, verify_window_start: Date.now() }).where('id', '=', unconfirmed).execute();
  const [a, b] = [await newCode(locked), await newCode(unconfirmed)];
  assert.equal(await useCode(t.store, a, locked), false);
  assert.equal(await usedMarks(a), 0);
  assert.equal(await useCode(t.store, b, unconfirmed), 'used');
  const row = await t.store.db.selectFrom('users').select(['confirmed', 'verify_failures', 'verify_window_start']).where('id', '=', unconfirmed).executeTakeFirstOrThrow();
  assert.deepEqual(row, { confirmed: 1, verify_failures: 0, verify_window_start: null });
  assert.equal(await useCode(t.store, b, unconfirmed), false);
});

test('code: a code that can verify for longer than the log keeps its marks is marked in its own row', sqliteOnly, async () => {
  const userId = await codeUser();
  const long = await newCode(userId, 2 * CODE_MATTERS);
  const now = Date.now();
  assert.equal(await useCode(t.store, long, userId, now), 'used');
  assert.equal(await usedMarks(long), 0);
  assert.equal(await usedAt(long), now);
  assert.equal(await useCode(t.store, long, userId), false);
});

test('code: marks go once they can no longer matter; recent ones stay', sqliteOnly, async () => {
  const own = openStore(t.db.url);
  try {
    const userId = await codeUser();
    const [a, b, c] = [await newCode(userId, 500), await newCode(userId, 500), await newCode(userId, 500)];
    const t0 = Date.now();
    assert.equal(await useCode(own, a, userId, t0, 1000), 'used');
    assert.equal(await useCode(own, b, userId, t0 + 61_000, 1000), 'used');
    assert.equal(await useCode(own, c, userId, t0 + 122_000, 1000), 'used');
    assert.deepEqual([await usedMarks(a), await usedMarks(b), await usedMarks(c)], [0, 1, 1]);
    assert.equal(await useCode(own, c, userId, t0 + 122_500, 1000), false, 'the newest is still refused');
  } finally {
    await own.close();
  }
});
