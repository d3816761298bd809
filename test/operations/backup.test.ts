// `openfactor backup` takes a consistent copy of a SQLite database while the server is writing to
// it; `openfactor restore` puts one back (checked, and only with the key that opens it), and the
// service runs on it: the same API keys, the same users, their sealed numbers readable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { createTestDatabase, dialect, testEnv } from '../support/harness.ts';
import { createUserOver, runCli, spawnServer, stoppedWithTest } from '../support/process.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const sqliteOnly = { skip: dialect !== 'sqlite' && 'SQLite half only (PostgreSQL: see the pg_dump test)' };

/** The CLI without blocking this process (the test's own requests keep the server writing meanwhile). */
function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const p = stoppedWithTest(spawn(process.execPath, ['build/cli.js', ...args], { cwd: root, env }));
  let stdout = '';
  let stderr = '';
  p.stdout!.on('data', (d) => (stdout += d));
  p.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => p.once('exit', (status) => resolve({ status, stdout, stderr })));
}

const usersIn = (file: string) => {
  const db = new SQLite(file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
  } finally {
    db.close();
  }
};

test('a backup taken while users are being created is whole; a restore brings the service back to it', sqliteOnly, async () => {
  const db = await createTestDatabase();
  const env = testEnv(db);
  const file = db.url.replace(/^sqlite:/, '');
  const copy = join(db.dataDir, 'backup', 'openfactor-backup.db');
  runCli(['migrate'], env);
  const { api_key: key } = JSON.parse(runCli(['apps', 'create', '--name', 'Backed Bank', '--json'], env).stdout);
  const server = await spawnServer(env);
  let phones = 0;
  let writing = true;
  try {
    const first = await createUserOver(server.url, key, '4155550100');
    // Users keep coming while the backup is taken.
    const load = (async () => {
      while (writing) await createUserOver(server.url, key, `41555${String(10000 + phones++).slice(-5)}`);
    })();
    while (phones < 20) await new Promise((r) => setTimeout(r, 20));
    mkdirSync(join(db.dataDir, 'backup'));
    const before = phones;
    const r = await cli(['backup', '--to', copy], env);
    const after = phones;
    writing = false;
    await load;
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Backed up .* to .*openfactor-backup\.db: \d+ pages, [\d.]+ MB, in \d+ ms\.\nThe master key is not in the backup: keep OPENFACTOR_MASTER_KEY safe, apart from it/);
    assert.equal(statSync(copy).mode & 0o777, 0o600, 'as private as the database');
    assert.deepEqual(readdirSync(join(db.dataDir, 'backup')), ['openfactor-backup.db'], 'one file, nothing beside it');
    const check = new SQLite(copy, { readonly: true });
    assert.equal(check.pragma('integrity_check', { simple: true }), 'ok');
    assert.equal(check.pragma('journal_mode', { simple: true }), 'delete');
    check.close();
    const backedUp = usersIn(copy);
    assert.ok(backedUp >= before + 1 && backedUp <= after + 2, `${backedUp} users in the copy, taken while ${before + 1}..${after + 1} existed`);
    assert.equal((await cli(['backup', '--to', copy], env)).status, 1, 'an existing file is never overwritten');

    // A restore while the server runs is refused, and changes nothing.
    const busy = await cli(['restore', '--from', copy], env);
    assert.equal(busy.status, 1);
    assert.match(busy.stderr, /is in use: stop OpenFactor \(every process on this database\) first; nothing was changed/);
    await server.stop();
    const lived = usersIn(file);
    assert.ok(lived > backedUp);

    // With another master key, the backup's secrets would not open: refused, nothing changed.
    const wrongKey = await cli(['restore', '--from', copy], { ...env, OPENFACTOR_MASTER_KEY: randomBytes(32).toString('hex') });
    assert.equal(wrongKey.status, 1);
    assert.match(wrongKey.stderr, /sealed with master key \w+, which this OpenFactor was not given: set OPENFACTOR_MASTER_KEY to that key \(or list it in OPENFACTOR_PREVIOUS_MASTER_KEYS\); nothing was changed/);
    assert.equal(usersIn(file), lived);

    const restored = await cli(['restore', '--from', copy], env);
    assert.equal(restored.status, 0, restored.stderr);
    const kept = /kept as (\S+);/.exec(restored.stdout)?.[1];
    assert.ok(kept && existsSync(kept), restored.stdout);
    assert.equal(usersIn(kept), lived, 'the database it replaced is kept whole');
    assert.equal(usersIn(file), backedUp);

    // The service runs on the restored database: the same key, the first user with the number sealed at rest.
    const again = await spawnServer(env);
    try {
      const r2 = await fetch(`${again.url}/protected/json/users/${first}/status`, { headers: { 'x-authy-api-key': key } });
      assert.equal(r2.status, 200);
      assert.match((await r2.json()).status.phone_number, /0100$/);
      assert.equal((await fetch(`${again.url}/readyz`)).status, 200);
    } finally {
      await again.stop();
    }
  } finally {
    writing = false;
    await server.stop();
    await db.drop();
  }
});

test('restore refuses a file that is not an OpenFactor database, and a damaged one', sqliteOnly, async () => {
  const db = await createTestDatabase();
  const env = testEnv(db);
  try {
    runCli(['migrate'], env);
    const other = join(db.dataDir, 'other.db');
    new SQLite(other).exec('CREATE TABLE t (x)').close();
    const r = await cli(['restore', '--from', other], env);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /other\.db is not an OpenFactor database: nothing was changed/);
    const junk = join(db.dataDir, 'junk.db');
    writeFileSync(junk, randomBytes(8192));
    const j = await cli(['restore', '--from', junk], env);
    assert.equal(j.status, 1);
    assert.doesNotMatch(j.stderr, /^\s+at /m);
  } finally {
    await db.drop();
  }
});

test('on PostgreSQL, backup and restore say how with pg_dump and pg_restore', { skip: dialect !== 'postgres' && 'PostgreSQL half only' }, async () => {
  const db = await createTestDatabase();
  const env = testEnv(db);
  try {
    const u = new URL(db.url);
    const b = await cli(['backup', '--to', join(db.dataDir, 'x')], env);
    assert.equal(b.status, 1);
    assert.match(b.stderr, new RegExp(`pg_dump -h ${u.hostname} -p ${u.port || 5432} -U postgres -Fc -f FILE ${u.pathname.slice(1)}`));
    const r = await cli(['restore', '--from', join(db.dataDir, 'x')], env);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /pg_restore .* --clean --if-exists FILE/);
  } finally {
    await db.drop();
  }
});
