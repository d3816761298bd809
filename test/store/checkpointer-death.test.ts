// SQLite: commits never checkpoint themselves, so the checkpoint thread is all that keeps the WAL
// from growing without end. When it dies, that is logged and it is started again; when it cannot
// be, the connections go back to checkpointing on commit (logged). Either way the WAL stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import { dialect } from '../support/harness.ts';
import { until } from '../support/wait.ts';
import { migrate, openStore, type Store, type StoreLog } from '../../src/store/db.ts';

const skip = dialect !== 'sqlite' && 'SQLite only: PostgreSQL has no checkpoint thread of ours';
const MiB = 2 ** 20;

function capture() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const log: StoreLog = {
    warn: (obj, msg) => lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
  };
  return { lines, log, find: (event: string) => lines.find((l) => l.obj.event === event) };
}

/**
 * A store on tmpfs (checkpoints flush quickly, see checkpoint.test.ts); removed after `f`. The
 * thread looks at the WAL every 50 ms instead of 500: these commits come about 20 MiB a second
 * on a fast machine, so at 500 ms the WAL between two looks alone came near the bound below
 * (measured: 12.4 MiB), and one slow look on a busy machine crossed it (CI: 17.6 MiB).
 */
async function withStore(options: { log: StoreLog; checkpointRestarts?: number }, f: (store: Store, file: string) => Promise<void>) {
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'openfactor-test-'));
  const file = join(dir, 'test.db');
  const store = openStore(`sqlite:${file}`, { ...options, walSizes: { intervalMs: 50 } });
  try {
    await migrate(store);
    await f(store, file);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * 1,500 commits of about 12 KB (about 24 MiB of WAL if nothing checkpointed), spaced like a busy
 * server's; answers the most the WAL held (a rewound WAL is reused from its start).
 */
async function largestWal(store: Store, file: string): Promise<number> {
  let largest = 0;
  for (let i = 0; i < 1500; i++) {
    await store.db.insertInto('meta').values({ key: `w${i}`, value: 'x'.repeat(12_000) }).execute();
    largest = Math.max(largest, statSync(`${file}-wal`).size);
    await new Promise((r) => setTimeout(r, 1));
  }
  return largest;
}

test('a checkpoint thread that dies is logged and started again, and the WAL stays bounded', { skip }, async () => {
  const { lines, log, find } = capture();
  await withStore({ log }, async (store, file) => {
    const first = await until('checkpoint thread running', () => store.checkpointThread?.());
    await first.terminate();
    const died = await until('death logged', () => find('checkpointer_died'));
    assert.equal(died.level, 'error');
    await until('a new thread', () => {
      const w: Worker | undefined = store.checkpointThread!();
      return w !== undefined && w !== first;
    }, 10_000);
    const largest = await largestWal(store, file);
    assert.ok(largest < 16 * MiB, `the WAL reached ${(largest / MiB).toFixed(1)} MiB`);
    assert.ok(!find('checkpointer_gave_up'), JSON.stringify(lines));
  });
});

test('a checkpoint thread that cannot be restarted: commits checkpoint themselves (logged), and the WAL stays bounded', { skip }, async () => {
  const { log, find } = capture();
  await withStore({ log, checkpointRestarts: 0 }, async (store, file) => {
    const first = await until('checkpoint thread running', () => store.checkpointThread?.());
    await first.terminate();
    const line = await until('fallback logged', () => find('checkpointer_gave_up'));
    assert.equal(line.level, 'error');
    const { rows } = await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(store.db);
    assert.ok(rows[0].wal_autocheckpoint > 0, 'the request connection checkpoints on commit again');
    const largest = await largestWal(store, file);
    assert.ok(largest < 16 * MiB, `the WAL reached ${(largest / MiB).toFixed(1)} MiB`);
  });
});
