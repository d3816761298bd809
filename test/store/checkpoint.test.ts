// SQLite: WAL checkpoints happen on a background thread, never inside a request's commit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { createTestDatabase, dialect } from '../support/harness.ts';
import { migrate, openStore } from '../../src/store/db.ts';
import { prepared } from '../../src/store/prepared.ts';
import type { DB } from '../../src/store/schema.ts';

test('commits never checkpoint; the background checkpointer copies the WAL back', { skip: dialect !== 'sqlite' && 'SQLite only' }, async () => {
  const db = await createTestDatabase();
  const store = openStore(db.url);
  try {
    await migrate(store);
    const { rows } = await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(store.db);
    assert.equal(rows[0].wal_autocheckpoint, 0, 'the request connection never checkpoints on commit');
    const before = store.checkpoints!().frames;
    for (let i = 0; i < 300; i++) await store.db.insertInto('meta').values({ key: `k${i}`, value: 'x'.repeat(2000) }).execute();
    for (let i = 0; i < 40 && store.checkpoints!().frames === before; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(store.checkpoints!().frames > before, 'the background thread checkpointed the new frames');
  } finally {
    await store.close();
    await db.drop();
  }
});

/**
 * 3,000 commits, about one a millisecond, as a busy server makes, into a store at `url`: a passive
 * checkpoint is never complete when the next commit comes, so without a rewind the WAL only grows.
 * Answers the most the WAL ever held, the frames left in it, and the RESTART checkpoints made.
 */
async function constantWrites(url: string) {
  const store = openStore(url);
  const file = url.replace(/^sqlite:/, '');
  const commits = 3000;
  try {
    await migrate(store);
    let largest = 0;
    for (let i = 0; i < commits; i++) {
      await store.db.insertInto('meta').values({ key: `w${i}`, value: 'x'.repeat(3500) }).execute();
      largest = Math.max(largest, statSync(`${file}-wal`).size);
      await new Promise((r) => setTimeout(r, 1));
    }
    // Frames in the WAL now: each commit wrote at least one; without a rewind all are still there.
    const other = new Database(file);
    const [{ log }] = other.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
    other.close();
    // A rewind reuses the file from its start, so its size is the most the WAL ever held.
    return { commits, largest, log, restarts: store.checkpoints!().restarts };
  } finally {
    await store.close();
  }
}

const MiB = 2 ** 20;

test('where the disk flushes quicker than commits come, passive checkpoints rewind the WAL and no writer waits', { skip: dialect !== 'sqlite' && 'SQLite only' }, async () => {
  // A checkpoint flushes the disk; the claim holds where that takes less than the gap between
  // commits. On a shared disk it need not (the next test), so this one writes to memory (tmpfs).
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'openfactor-test-'));
  try {
    const { commits, largest, log, restarts } = await constantWrites(`sqlite:${join(dir, 'test.db')}`);
    assert.ok(log < commits, `${log} frames in the WAL after ${commits} commits`);
    // Passive catch-up rewinds it at the first look past 1,024 frames of 4 KiB (looks come every
    // 500 ms, and these commits add about 6 MiB in that time); only the fallback makes writers wait.
    assert.ok(largest < 16 * MiB, `the WAL reached ${(largest / MiB).toFixed(1)} MiB`);
    assert.equal(restarts, 0, 'no writer was made to wait for a RESTART checkpoint');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** How many times the WAL has been rewound: the checkpoint sequence number in its header. */
const rewinds = (file: string) => {
  const header = Buffer.alloc(16);
  const fd = openSync(`${file}-wal`, 'r');
  try {
    return readSync(fd, header, 0, 16, 0) < 16 ? 0 : header.readUInt32BE(12);
  } finally {
    closeSync(fd);
  }
};

test('when nothing else can catch up, a RESTART is tried and the WAL is rewound once it can be', { skip: dialect !== 'sqlite' && 'SQLite only' }, async () => {
  // A slow flush cannot be made on purpose here, but a reader holding an old snapshot stops
  // passive checkpoints the same way: none can copy the commits made after it began. Nor can the
  // hold (these writes are not turn writes, and the reader is another connection).
  const db = await createTestDatabase();
  const store = openStore(db.url, { walSizes: { holdFrames: 1024, restartFrames: 2048 } });
  const file = db.url.replace(/^sqlite:/, '');
  const write = async (i: number) => {
    await store.db.insertInto('meta').values({ key: `r${i}`, value: 'x'.repeat(3500) }).execute();
    await new Promise((r) => setTimeout(r, 1));
  };
  try {
    await migrate(store);
    const reader = new Database(file);
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM meta').get();
    let i = 0;
    let largest = 0;
    while (store.checkpoints!().restarts === 0 && i < 6000) {
      await write(i++);
      largest = Math.max(largest, statSync(`${file}-wal`).size);
    }
    assert.ok(store.checkpoints!().restarts > 0, `no RESTART was tried in ${i} commits`);
    // Looked for every 100 ms once past 4 MiB; the RESTART comes at 8 MiB here.
    assert.ok(largest < 12 * MiB, `the WAL reached ${(largest / MiB).toFixed(1)} MiB before a RESTART was tried`);
    const before = rewinds(file);
    reader.exec('COMMIT');
    reader.close();
    const end = i + 3000;
    while (rewinds(file) === before && i < end) await write(i++);
    assert.ok(rewinds(file) > before, 'the WAL was rewound once the reader had finished');
  } finally {
    await store.close();
    await db.drop();
  }
});

test('turn writes wait a moment for the last copy, and the WAL is rewound with no RESTART where back-to-back rounds never catch up', { skip: dialect !== 'sqlite' && 'SQLite only' }, async () => {
  // No back-to-back passive rounds (catchUpMs 0): as on a disk slower to flush than commits come,
  // where none finds a moment without a commit, only the hold (or a RESTART, never here) rewinds.
  const db = await createTestDatabase();
  const store = openStore(db.url, { walSizes: { intervalMs: 20, rewindFrames: 256, holdFrames: 512, restartFrames: 1e9, catchUpMs: 0 } });
  const file = db.url.replace(/^sqlite:/, '');
  // The hot path's kind of write: prepared, committed with the rest of its turn (TurnWrites).
  const update = prepared((d: Kysely<DB>, key: string, value: string) => d.updateTable('meta').set({ value }).where('key', '=', key));
  try {
    await migrate(store);
    // Small rows on a few dozen pages: each commit adds a frame, but a checkpoint has little to
    // copy and flush, so what keeps it from catching up is only that commits never pause.
    for (let i = 0; i < 1000; i++) await store.db.insertInto('meta').values({ key: `h${i}`, value: 'x'.repeat(60) }).execute();
    const before = rewinds(file);
    let largest = 0;
    let written = 0;
    let applied = 0;
    const start = Date.now();
    // A write of a random row in every turn of the event loop for 3 s, each committed on its own
    // (a frame each): far more often than a checkpoint's flush takes, so no round finds a moment
    // without a commit. Never rewound, the WAL would take hundreds of MiB.
    const pending: Promise<number>[] = [];
    for (let turn = 0; Date.now() - start < 3000; turn++) {
      pending.push(update.run(store.db, `h${randomInt(1000)}`, `${turn}:`.padEnd(60, 'y')));
      if (turn % 100 === 0) largest = Math.max(largest, statSync(`${file}-wal`).size);
      await new Promise((r) => setImmediate(r));
    }
    const changes = await Promise.all(pending);
    written = changes.length;
    applied = changes.filter((c) => c === 1).length;
    assert.equal(applied, written, 'every write was made, once');
    const { holds, restarts } = store.checkpoints!();
    assert.ok(holds >= 2, `the turn writes were held for a last copy ${holds} times`);
    assert.equal(restarts, 0, 'no writer was made to wait for a RESTART checkpoint');
    assert.ok(rewinds(file) - before >= 2, 'the WAL was rewound, again and again');
    // Held past 2 MiB, looked at every 20 ms: it stays within tens of MiB (without the hold it
    // passed 200 MiB here).
    assert.ok(largest < 64 * MiB, `the WAL reached ${(largest / MiB).toFixed(1)} MiB`);
    // What was written is what is read back.
    const sample = await store.db.selectFrom('meta').select(['key', 'value']).where('key', 'like', 'h%').execute();
    assert.equal(sample.length, 1000);
    assert.ok(sample.every((r) => r.value.length === 60));
  } finally {
    await store.close();
    await db.drop();
  }
});
