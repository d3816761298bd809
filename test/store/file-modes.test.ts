// Data at rest is the service user's alone: the data directory 0700, every file in it 0600
// (database, -wal, -shm, master key, admin token), under an ordinary umask of 022; an existing
// data directory or file with looser modes is tightened at start, and that is logged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestDatabase, dialect, testEnv } from '../support/harness.ts';
import { spawnServer } from '../support/process.ts';

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

/** The server as an operator starts it: keys made on first start, the database in the data dir (SQLite). */
function envFor(db: Awaited<ReturnType<typeof createTestDatabase>>, dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...testEnv(db), OPENFACTOR_DATA_DIR: dataDir };
  delete env.OPENFACTOR_MASTER_KEY;
  delete env.OPENFACTOR_ADMIN_TOKEN;
  if (dialect === 'sqlite') delete env.DATABASE_URL;
  return env;
}

/** Runs `fn` with the process umask (inherited by the server it spawns) set to `mask`. */
async function withUmask<T>(mask: number, fn: () => Promise<T>): Promise<T> {
  const previous = process.umask(mask);
  try {
    return await fn();
  } finally {
    process.umask(previous);
  }
}

test('a fresh data directory under umask 022: the directory 0700, every file 0600 (with -wal and -shm)', async () => {
  const db = await createTestDatabase();
  const dataDir = join(db.dataDir, 'data');
  try {
    await withUmask(0o022, async () => {
      const server = await spawnServer(envFor(db, dataDir));
      try {
        // Looked at while the server runs: SQLite removes -wal and -shm on a clean close.
        const files = ['master.key', 'admin.token'];
        if (dialect === 'sqlite') files.push('openfactor.db', 'openfactor.db-wal', 'openfactor.db-shm');
        assert.equal(modeOf(dataDir), '700', 'data directory');
        for (const f of files) {
          assert.ok(existsSync(join(dataDir, f)), `${f} exists`);
          assert.equal(modeOf(join(dataDir, f)), '600', f);
        }
      } finally {
        await server.stop();
      }
    });
  } finally {
    await db.drop();
  }
});

test('an existing data directory and files with looser modes are tightened at start, and it is logged', async () => {
  const db = await createTestDatabase();
  const dataDir = join(db.dataDir, 'data');
  try {
    await withUmask(0o022, async () => {
      const first = await spawnServer(envFor(db, dataDir));
      await first.stop();
      // As an older version (or a careless copy) left them.
      chmodSync(dataDir, 0o755);
      chmodSync(join(dataDir, 'master.key'), 0o644);
      if (dialect === 'sqlite') {
        chmodSync(join(dataDir, 'openfactor.db'), 0o644);
        // A -shm of an earlier run: SQLite keeps an existing file's mode.
        writeFileSync(join(dataDir, 'openfactor.db-shm'), '', { mode: 0o644 });
        chmodSync(join(dataDir, 'openfactor.db-shm'), 0o644);
      }
      const second = await spawnServer(envFor(db, dataDir));
      try {
        assert.equal(modeOf(dataDir), '700');
        assert.equal(modeOf(join(dataDir, 'master.key')), '600');
        if (dialect === 'sqlite') for (const f of ['openfactor.db', 'openfactor.db-wal', 'openfactor.db-shm']) assert.equal(modeOf(join(dataDir, f)), '600', f);
        const logged = second
          .output()
          .split('\n')
          .filter((l) => l.startsWith('{') && JSON.parse(l).event === 'file_mode')
          .map((l) => JSON.parse(l).msg);
        assert.ok(logged.includes(`data at rest: ${dataDir} was mode 755: now 700`), logged.join('\n'));
        assert.ok(logged.includes(`data at rest: ${join(dataDir, 'master.key')} was mode 644: now 600`), logged.join('\n'));
      } finally {
        await second.stop();
      }
    });
  } finally {
    await db.drop();
  }
});

test('a directory of its own for a database file elsewhere is made 0700; an existing one is left alone', { skip: dialect !== 'sqlite' && 'SQLite files' }, async () => {
  const db = await createTestDatabase();
  const shared = join(db.dataDir, 'shared');
  mkdirSync(shared, { mode: 0o755 });
  chmodSync(shared, 0o755);
  try {
    await withUmask(0o022, async () => {
      for (const [dir, mode] of [[join(db.dataDir, 'new', 'db'), '700'], [shared, '755']] as const) {
        const env = { ...envFor(db, join(db.dataDir, 'data')), DATABASE_URL: `sqlite:${join(dir, 'of.db')}` };
        const server = await spawnServer(env);
        try {
          assert.equal(modeOf(dir), mode, dir);
          assert.equal(modeOf(join(dir, 'of.db')), '600');
          assert.equal(modeOf(join(dir, 'of.db-wal')), '600');
        } finally {
          await server.stop();
        }
      }
    });
  } finally {
    await db.drop();
  }
});
