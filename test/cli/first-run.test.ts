// The first run, told plainly: where the data, the database, the console and the admin token are;
// a start that fails says what to do in words (the setting to change), never with a stack trace,
// and never swallows the Default application's key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, dialect, pgAdminUrl, testEnv } from '../support/harness.ts';
import { runCli, spawnServer, stoppedWithTest } from '../support/process.ts';
import { until } from '../support/wait.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const STACK_FRAME = /^\s+at /m;

/** `openfactor serve` expected to fail at start: its exit code and output. */
function failedStart(env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, ['build/cli.js', 'serve'], { cwd: root, env: { ...env, LOG_LEVEL: 'warn' }, encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const occupiedPort = () =>
  new Promise<Server>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => resolve(s));
  });

test('a start says where the data, the database, the console and the admin token are', async () => {
  const db = await createTestDatabase();
  const env = testEnv(db);
  delete env.OPENFACTOR_MASTER_KEY;
  try {
    const server = await spawnServer(env);
    try {
      const text = await until('the start is told', () => /OpenFactor is ready\.\n[\s\S]*?\n\n/.exec(server.output())?.[0]);
      const row = (label: string) => new RegExp(`^  ${label}:\\s+(.+)$`, 'm').exec(text)?.[1];
      assert.equal(row('Admin console'), `${server.url}/console/`);
      assert.equal(row('Admin token'), join(db.dataDir, 'admin.token'));
      assert.equal(row('Data directory'), db.dataDir);
      assert.match(row('Master key') ?? '', new RegExp(`^${join(db.dataDir, 'master.key')} \\(back it up`));
      assert.match(row('API') ?? '', /\/healthz.*\/readyz/);
      if (dialect === 'sqlite') assert.equal(row('Database'), `SQLite, ${db.url.replace(/^sqlite:/, '')}`);
      else {
        const u = new URL(db.url);
        assert.equal(row('Database'), `PostgreSQL, ${u.hostname}:${u.port || 5432}${u.pathname}`);
      }
      // What it says is true: the console answers there, and the token in that file opens the admin API.
      assert.equal((await fetch(row('Admin console')!)).status, 200);
      const token = readFileSync(row('Admin token')!, 'utf8').trim();
      assert.equal((await fetch(`${server.url}/admin/applications`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    } finally {
      await server.stop();
    }
    const given = await spawnServer({ ...env, OPENFACTOR_ADMIN_TOKEN: randomBytes(16).toString('hex'), OPENFACTOR_MASTER_KEY: readMasterKey(db.dataDir) });
    try {
      const text = await until('the start is told', () => /OpenFactor is ready\.\n[\s\S]*?\n\n/.exec(given.output())?.[0]);
      assert.match(text, /Admin token:\s+OPENFACTOR_ADMIN_TOKEN \(from the environment\)/);
      assert.match(text, /Master key:\s+OPENFACTOR_MASTER_KEY \(from the environment\)/);
      assert.doesNotMatch(given.output(), new RegExp(readMasterKey(db.dataDir)), 'a key is named, never printed');
    } finally {
      await given.stop();
    }
  } finally {
    await db.drop();
  }
});

const readMasterKey = (dataDir: string) => readFileSync(join(dataDir, 'master.key'), 'utf8').trim();

test('the port in use: PORT is named, no stack, and the Default key is not lost', async () => {
  const db = await createTestDatabase();
  const env = testEnv(db);
  const busy = await occupiedPort();
  try {
    const port = (busy.address() as { port: number }).port;
    const r = failedStart({ ...env, PORT: String(port) });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`openfactor: port ${port} on 127\\.0\\.0\\.1 is already in use \\(another OpenFactor\\?\\): stop what listens there, or set PORT to a free port`));
    assert.doesNotMatch(r.stdout + r.stderr, STACK_FRAME);
    assert.doesNotMatch(r.stdout, /shown only now/, 'no key printed by a start that failed');
    // The next start, on a free port, makes and shows the Default application's key.
    const next = await spawnServer(env);
    try {
      await until('the Default key', () => /Its API key, shown only now/.test(next.output()));
    } finally {
      await next.stop();
    }
  } finally {
    busy.close();
    await db.drop();
  }
});

test('a data directory that is a file is named as such', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openfactor-datafile-'));
  try {
    const file = join(dir, 'data');
    writeFileSync(file, 'not a directory');
    for (const command of [['serve'], ['migrate']]) {
      const r = runCli(command, { ...process.env, OPENFACTOR_DATA_DIR: file, DATABASE_URL: '', PORT: '0', LOG_LEVEL: 'warn' });
      assert.equal(r.status, 1);
      assert.equal(r.stderr.trim(), `openfactor: the data directory ${file} is a file, not a directory: move it away, or set OPENFACTOR_DATA_DIR to a directory`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('data sealed with another master key: both key settings are named', async () => {
  const db = await createTestDatabase();
  const env = testEnv(db);
  try {
    const first = await spawnServer(env); // seals its Web Push key with OPENFACTOR_MASTER_KEY
    await first.stop();
    const r = failedStart({ ...env, OPENFACTOR_MASTER_KEY: randomBytes(32).toString('hex'), PORT: '0' });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /^openfactor: sealed with unknown key [\w-]+: the master key in use \(OPENFACTOR_MASTER_KEY, or master\.key in the data directory\) is not the one that sealed this data; give that key as OPENFACTOR_MASTER_KEY, or list it in OPENFACTOR_PREVIOUS_MASTER_KEYS while rotating keys$/m);
    assert.doesNotMatch(r.stdout + r.stderr, STACK_FRAME);
  } finally {
    await db.drop();
  }
});

test('a PostgreSQL database that does not exist: how to create it', { skip: dialect !== 'postgres' && 'PostgreSQL half only' }, () => {
  const url = new URL(pgAdminUrl);
  const name = `of_missing_${randomBytes(4).toString('hex')}`;
  url.pathname = `/${name}`;
  const dir = mkdtempSync(join(tmpdir(), 'openfactor-nodb-'));
  try {
    for (const command of [['serve'], ['migrate']]) {
      const r = runCli(command, { ...process.env, OPENFACTOR_DATA_DIR: dir, DATABASE_URL: url.toString(), PORT: '0', LOG_LEVEL: 'warn' });
      assert.equal(r.status, 1);
      const where = `-h ${url.hostname} -p ${url.port || 5432} -U ${decodeURIComponent(url.username) || process.env.USER || 'postgres'}`;
      assert.equal(r.stderr.trim(), `openfactor: PostgreSQL has no database "${name}" (DATABASE_URL). Create it, then start again:\n  createdb ${where} ${name}\nor\n  psql ${where} -d postgres -c 'CREATE DATABASE "${name}"'`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the demo login with OpenFactor down says so, without a stack trace', async () => {
  const busy = await occupiedPort(); // a port nothing answers HTTP on: closed right away
  const port = (busy.address() as { port: number }).port;
  busy.close(); // nothing listens there now: OpenFactor is down
  try {
    const proc = stoppedWithTest(
      spawn(process.execPath, ['--import', 'tsx', 'examples/demo-login/server.ts'], {
        cwd: root,
        env: { ...process.env, OPENFACTOR_URL: `http://127.0.0.1:${port}`, AUTHY_API_KEY: 'k'.repeat(32), DEMO_PORT: '0' },
      }),
    );
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    assert.equal(code, 1, out);
    assert.equal(out.trim(), `demo: OpenFactor is not answering at http://127.0.0.1:${port}: start it first (npm start in another terminal), or set OPENFACTOR_URL to where it runs.`);
  } finally {
    busy.close();
  }
});
