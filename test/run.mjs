#!/usr/bin/env node
// `npm test`: type-check, then the whole suite against SQLite, then against PostgreSQL when one
// is reachable (always in CI, where an unreachable PostgreSQL is a failure).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { inCI } from './support/ci.mjs';
import { compiledDir, compileTests } from './support/compile.mjs';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv.slice(2);
const files = only.length ? only : findTests(join(root, 'test'));
const pgUrl = process.env.OPENFACTOR_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const requirePg = inCI || process.env.OPENFACTOR_REQUIRE_PG === '1';

function findTests(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return findTests(p);
    return name.endsWith('.test.ts') ? [p] : [];
  }).sort();
}

async function pgReachable() {
  const c = new pg.Client({ connectionString: pgUrl, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('select 1');
    return true;
  } catch (e) {
    console.log(`PostgreSQL not reachable at ${pgUrl}: ${e.message}`);
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

// Each half's failures, repeated at the very end of the output (see support/failures-reporter.mjs).
const failuresDir = mkdtempSync(join(tmpdir(), 'openfactor-test-'));
const failures = [];

// Every process the tests start carries this run's mark in its environment: whatever a test or
// its file leaves running (a timeout, a crash, a kill) is found by it and stopped after each half
// and when this runner is stopped.
// A run started by a test of another run (test/operations/test-runner.test.ts) uses that run's
// build: rebuilding would rewrite files the other run's servers are starting from.
const nested = Boolean(process.env.OPENFACTOR_TEST_RUN);
const RUN_MARK = `OPENFACTOR_TEST_RUN=${randomBytes(8).toString('hex')}`;
process.env.OPENFACTOR_TEST_RUN = RUN_MARK.split('=')[1];

/** Kills the processes of this run still alive (Linux: read from /proc), saying which. */
function stopLeftovers(when) {
  if (process.platform !== 'linux') return;
  const left = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number)) {
    if (pid === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(RUN_MARK)) continue;
      left.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ').trim().slice(0, 120)}`);
      process.kill(pid, 'SIGKILL');
    } catch { /* gone meanwhile, or not ours to read */ }
  }
  if (left.length) console.log(`\n${when}: stopped ${left.length} process(es) the tests left running:\n  ${left.join('\n  ')}`);
}

// The test files themselves run compiled (support/compile.mjs). A run started by a test of another
// run compiles into a directory of its own: the other run's files are being loaded from its.
const testsDir = nested ? mkdtempSync(`${compiledDir}-`) : compiledDir;
// Every way out ends in process.exit: this run's temporary folders go with it, whichever way.
process.on('exit', () => {
  rmSync(failuresDir, { recursive: true, force: true });
  if (nested) rmSync(testsDir, { recursive: true, force: true });
});

let current;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    current?.kill('SIGTERM');
    setTimeout(() => (stopLeftovers(`on ${signal}`), process.exit(1)), 2000).unref();
  });
}

async function run(label, env) {
  console.log(`\n=== ${label} ===`);
  const failuresFile = join(failuresDir, `${label}.txt`);
  current = spawn(
    process.execPath,
    ['--enable-source-maps', '--test', '--test-concurrency=3', '--test-timeout=300000',
      '--test-reporter=tap', '--test-reporter-destination=stdout',
      `--test-reporter=${join(root, 'test/support/failures-reporter.mjs')}`, `--test-reporter-destination=${failuresFile}`,
      `--test-reporter=${join(root, 'test/support/timings-reporter.mjs')}`, '--test-reporter-destination=stdout',
      ...compiled],
    { stdio: 'inherit', cwd: root, env: { ...process.env, ...env } },
  );
  const r = await new Promise((resolve) => current.once('exit', (status, signal) => resolve({ status, signal })));
  current = undefined;
  stopLeftovers(`after the ${label} half`);
  let failed = '';
  try { failed = readFileSync(failuresFile, 'utf8'); } catch { /* the runner died before writing */ }
  if (r.status !== 0) failures.push(`--- ${label}: exit ${r.status ?? r.signal}\n${failed || '(no test reported a failure: a file failed to load or the runner died)\n'}`);
  return r.status === 0;
}

if (!only.length) {
  console.log('=== type-check ===');
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '--noEmit'], { stdio: 'inherit', cwd: root });
  if (tsc.status !== 0) process.exit(1);
}
// Server processes the tests start run the compiled code, as `npm start` does: build it (quick
// when nothing changed since the last build).
if (!nested) {
  console.log('=== build (server) ===');
  const build = spawnSync('npm', ['run', '--silent', 'build:server'], { stdio: 'inherit', cwd: root });
  if (build.status !== 0) process.exit(1);
}

console.log('=== build (tests) ===');
if (!nested) rmSync(testsDir, { recursive: true, force: true });
let compiled;
try {
  compiled = await compileTests(files, testsDir);
} catch {
  process.exit(1); // esbuild has printed why
}

let ok = true;
const dbs = process.env.OPENFACTOR_TEST_DB ? [process.env.OPENFACTOR_TEST_DB] : ['sqlite', 'postgres'];
if (dbs.includes('sqlite')) ok = (await run('SQLite', { OPENFACTOR_TEST_DB: 'sqlite' })) && ok;
if (dbs.includes('postgres')) {
  if (await pgReachable()) ok = (await run('PostgreSQL', { OPENFACTOR_TEST_DB: 'postgres', OPENFACTOR_TEST_PG_URL: pgUrl })) && ok;
  else if (requirePg) {
    console.log('PostgreSQL is required here (CI) but unreachable: failing.');
    ok = false;
  } else console.log('Skipping the PostgreSQL half.');
}
if (failures.length) console.log(`\n=== failures ===\n${failures.join('\n')}`);
process.exit(ok ? 0 : 1);
