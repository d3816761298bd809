// SQLite counts wrong tokens as appended rows (counted_wrong_tokens: the user's count and window
// after each), each process remembering the latest from the table, not in the user's row; only
// the lockout is written there. The attempt cap must stay exact: across connections (processes)
// on the same file, across a restart, with counts made before the log, and a right token or an
// administrator's unlock must forget the count as they did when it was in the row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { dialect } from '../support/harness.ts';
import { sqliteStoreWithApp } from '../support/sqlite-store.ts';
import { openStore, type Store } from '../../src/store/db.ts';
import { acceptAppStep, acceptQrStep, recordFailure, replaceRecoveryCodes, unlockVerification, useRecoveryCode, useSentCode } from '../../src/features/tokens/queries.ts';

const sqliteOnly = { skip: dialect !== 'sqlite' && 'SQLite only: PostgreSQL counts in the row' };
const CAP = { max: 5, windowMs: 60_000, lockoutMs: 300_000 };
const t = sqliteStoreWithApp('W');

let phones = 0;
/** A confirmed user with no wrong token counted: what most users are. */
const newUser = async () =>
  (await t.store.db.insertInto('users').values({ app_id: t.appId, country_code: 1, phone_index: `w${phones++}`, contact_sealed: 'c', confirmed: 1, created_at: 1 }).returning('id').executeTakeFirstOrThrow()).id;
const wrong = (s: Store, userId: number, now = Date.now(), cap = CAP) => recordFailure(s.db, userId, now, cap);
/** What each of `n` wrong tokens was answered, one after the other. */
const wrongs = async (s: Store, userId: number, n: number, now = Date.now()) => {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await wrong(s, userId, now);
    out.push(r.locked ? 'locked' : r.counted ? 'counted' : 'refused');
  }
  return out;
};
const logged = async (userId: number) =>
  (await t.store.db.selectFrom('counted_wrong_tokens').select(['failures', 'window_start']).where('user_id', '=', userId).orderBy('seq').execute()).map((r) => r.failures);
const lockedUntil = async (userId: number) => (await t.store.db.selectFrom('users').select('verify_locked_until').where('id', '=', userId).executeTakeFirstOrThrow()).verify_locked_until;

test('wrong tokens are appended; the user row is written only by the lockout, and then nothing counts', sqliteOnly, async () => {
  const id = await newUser();
  await sql`CREATE TABLE row_writes (tbl text NOT NULL)`.execute(t.store.db);
  await sql`CREATE TRIGGER user_written AFTER UPDATE ON users BEGIN INSERT INTO row_writes VALUES ('users'); END`.execute(t.store.db);
  const written = async () => (await sql<{ tbl: string }>`SELECT tbl FROM row_writes`.execute(t.store.db)).rows.length;
  try {
    assert.deepEqual(await wrongs(t.store, id, 4), ['counted', 'counted', 'counted', 'counted']);
    assert.deepEqual(await logged(id), [1, 2, 3, 4]);
    assert.equal(await written(), 0, 'the user row was left as it was');
    assert.equal(await lockedUntil(id), null);
    const now = Date.now();
    assert.deepEqual(await wrong(t.store, id, now), { counted: true, locked: true }, 'the fifth reaches the cap');
    assert.equal(await written(), 1);
    assert.equal(await lockedUntil(id), now + CAP.lockoutMs);
    assert.deepEqual(await logged(id), [1, 2, 3, 4, 0], 'the count starts over');
    assert.deepEqual(await wrongs(t.store, id, 3, now + 1000), ['refused', 'refused', 'refused'], 'a locked user counts nothing');
    assert.deepEqual(await logged(id), [1, 2, 3, 4, 0]);
    // Once the lockout is over, counting starts from nothing.
    assert.deepEqual(await wrongs(t.store, id, 1, now + CAP.lockoutMs + 1), ['counted']);
    assert.deepEqual(await logged(id), [1, 2, 3, 4, 0, 1]);
  } finally {
    await sql`DROP TRIGGER user_written`.execute(t.store.db);
    await sql`DROP TABLE row_writes`.execute(t.store.db);
  }
});

test('another connection on the file (another process) goes on with the count, and the cap is exact when both race', sqliteOnly, async () => {
  const other = openStore(t.db.url);
  try {
    const id = await newUser();
    assert.deepEqual(await wrongs(t.store, id, 2), ['counted', 'counted']);
    assert.deepEqual(await wrongs(other, id, 2), ['counted', 'counted']);
    assert.deepEqual(await wrongs(t.store, id, 1), ['locked']);
    assert.deepEqual(await wrongs(other, id, 1), ['refused']);

    // Forty at once, half on each connection: exactly five count, the fifth locks.
    const raced = await newUser();
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => wrong(i % 2 ? other : t.store, raced)));
    assert.equal(results.filter((r) => r.counted).length, CAP.max, JSON.stringify(results));
    assert.equal(results.filter((r) => r.locked).length, 1);
    assert.deepEqual((await logged(raced)).slice(0, CAP.max - 1), [1, 2, 3, 4]);
  } finally {
    await other.close();
  }
});

test('a restarted process goes on with the count made before it started', sqliteOnly, async () => {
  const id = await newUser();
  assert.deepEqual(await wrongs(t.store, id, 3), ['counted', 'counted', 'counted']);
  const restarted = openStore(t.db.url);
  try {
    assert.deepEqual(await wrongs(restarted, id, 2), ['counted', 'locked']);
  } finally {
    await restarted.close();
  }
});

test('a count kept in the row (made before the log) goes on; one whose window has passed starts over', sqliteOnly, async () => {
  const [recent, old] = [await newUser(), await newUser()];
  const now = Date.now();
  await t.store.db.updateTable('users').set({ verify_failures: 3, verify_window_start: now - 1000 }).where('id', '=', recent).execute();
  await t.store.db.updateTable('users').set({ verify_failures: 4, verify_window_start: now - CAP.windowMs - 1 }).where('id', '=', old).execute();
  assert.deepEqual(await wrongs(t.store, recent, 2, now), ['counted', 'locked']);
  assert.deepEqual(await wrongs(t.store, old, 1, now), ['counted']);
  assert.deepEqual(await logged(old), [1]);
  // The window is the first wrong token's: the fifth token after it has passed starts a new count.
  const later = await newUser();
  assert.deepEqual(await wrongs(t.store, later, 4, now), ['counted', 'counted', 'counted', 'counted']);
  assert.deepEqual(await wrongs(t.store, later, 1, now + CAP.windowMs), ['counted']);
  assert.deepEqual(await logged(later), [1, 2, 3, 4, 1]);
});

test('a right token (app step, QR code, sent code, recovery code) forgets the count, on any connection', sqliteOnly, async () => {
  const other = openStore(t.db.url);
  try {
    const [byStep, byQr, byCode, byRecovery] = [await newUser(), await newUser(), await newUser(), await newUser()];
    await t.store.db.insertInto('authenticators').values({ user_id: byQr, app_id: t.appId, secret_sealed: 's', label: 'l', issuer: 'W', qr_token: `qr-${byQr}`, qr_size: 256, qr_expires_at: 1, created_at: 1 }).execute();
    await replaceRecoveryCodes(t.store.db, byRecovery, ['r1', 'r2'], Date.now());
    const code = (
      await t.store.db
        .insertInto('sent_codes')
        .values({ app_id: t.appId, user_id: byCode, channel: 'sms', code_hash: `h-${byCode}`, action: null, created_at: Date.now(), expires_at: Date.now() + 600_000 })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
    for (const id of [byStep, byQr, byCode, byRecovery]) assert.deepEqual(await wrongs(t.store, id, 4), ['counted', 'counted', 'counted', 'counted']);
    const now = Date.now();
    assert.equal(await acceptAppStep(other.db, { userId: byStep, step: Math.floor(now / 30_000), drift: 0, now, mattersMs: 900_000 }), true);
    assert.equal(await acceptQrStep(other.db, { userId: byQr, step: Math.floor(now / 30_000), drift: 0, now, mattersMs: 900_000 }), true);
    assert.equal(await useSentCode(other.db, { id: code, userId: byCode, now, mattersMs: 3_660_000 }), 'used');
    assert.equal(await useRecoveryCode(other.db, byRecovery, 'r2', now), 'used');
    for (const id of [byStep, byQr, byCode, byRecovery]) {
      assert.deepEqual(await logged(id), [1, 2, 3, 4, 0]);
      assert.deepEqual(await wrongs(t.store, id, 4), ['counted', 'counted', 'counted', 'counted'], 'counted from nothing again');
      assert.deepEqual(await wrongs(t.store, id, 1), ['locked']);
    }
  } finally {
    await other.close();
  }
});

test("an administrator's unlock forgets the count as well as the lockout", sqliteOnly, async () => {
  const [counting, locked] = [await newUser(), await newUser()];
  assert.deepEqual(await wrongs(t.store, counting, 4), ['counted', 'counted', 'counted', 'counted']);
  assert.deepEqual(await wrongs(t.store, locked, 5), ['counted', 'counted', 'counted', 'counted', 'locked']);
  assert.equal(await unlockVerification(t.store.db, t.appId, counting), 1);
  assert.equal(await unlockVerification(t.store.db, t.appId, locked), 1);
  assert.equal(await unlockVerification(t.store.db, t.appId + 1000, counting), 0, "another application's user is not touched");
  assert.equal(await lockedUntil(locked), null);
  for (const id of [counting, locked]) assert.deepEqual(await wrongs(t.store, id, 5), ['counted', 'counted', 'counted', 'counted', 'locked']);
});

test('rows go once no window can reach them; the count of a user still counting stays', sqliteOnly, async () => {
  // A store of its own, so its clock (the `now` given) starts here.
  const own = openStore(t.db.url);
  try {
    const [gone, kept] = [await newUser(), await newUser()];
    const day = 24 * 3600_000 + 2 * 60_000; // beyond the largest window settings allow
    const t0 = Date.now();
    const wide = { ...CAP, windowMs: 3 * day };
    assert.equal((await wrong(own, gone, t0, wide)).counted, true);
    assert.equal((await wrong(own, kept, t0 + day, wide)).counted, true);
    assert.equal((await wrong(own, kept, t0 + 2 * day, wide)).counted, true);
    assert.deepEqual(await logged(gone), [], "the first row, older than any window's reach at the last look, is gone");
    assert.deepEqual(await logged(kept), [1, 2]);
  } finally {
    await own.close();
  }
});
