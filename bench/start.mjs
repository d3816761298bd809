#!/usr/bin/env node
// How fast OpenFactor starts, as an operator meets it: the server until it answers HTTP, and CLI
// commands until they exit, each as a ratio to `node -e 0` timed in turn with it (the floor any
// Node program pays). Runs the compiled code (`npm run build:server` first). SQLite in a fresh
// data directory, migrated by a first start that is not counted.
//   node bench/start.mjs [runs=10]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const RUNS = Number(process.argv[2] ?? 10);
const root = new URL('..', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'openfactor-start-'));
const env = { ...process.env, OPENFACTOR_DATA_DIR: dataDir, DATABASE_URL: '', LOG_LEVEL: 'info', PORT: '0', HOST: '127.0.0.1' };
const cli = (...args) => [join(root, 'bin/openfactor.mjs'), ...args];

/** Milliseconds from spawn to exit. */
function timeExit(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Milliseconds from spawn until the server answers `GET /healthz` (or any HTTP answer at all). */
async function timeServer() {
  const t0 = process.hrtime.bigint();
  const proc = spawn(process.execPath, cli('serve'), { env, cwd: root });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  try {
    for (;;) {
      const url = /listening on (http:\/\/[\d.:]+)/.exec(out)?.[1];
      if (url) {
        const r = await fetch(`${url}/`).catch(() => undefined);
        if (r) {
          await r.arrayBuffer();
          return Number(process.hrtime.bigint() - t0) / 1e6;
        }
      }
      if (proc.exitCode !== null) throw new Error(`server exited:\n${out}`);
      await sleep(2);
    }
  } finally {
    proc.kill('SIGKILL');
    await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
  }
}

const cases = {
  'server ready (GET / answered)': () => timeServer(),
  'openfactor --help': () => timeExit(cli('--help')),
  'openfactor outbox --json': () => timeExit(cli('outbox', '--json')),
  'openfactor apps list': () => timeExit(cli('apps', 'list')),
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  await timeServer(); // the first start: creates the data directory, migrates, makes "Default"
  console.log(`${RUNS} runs each, in turn with \`node -e 0\`; medians`);
  for (const [name, run] of Object.entries(cases)) {
    const own = [];
    const floor = [];
    await run(); // warm the file cache
    for (let i = 0; i < RUNS; i++) {
      floor.push(timeExit(['-e', '0']));
      own.push(await run());
    }
    const ratios = own.map((x, i) => x / floor[i]);
    console.log(`${name.padEnd(32)} ${median(own).toFixed(0).padStart(6)} ms   node -e 0: ${median(floor).toFixed(0).padStart(4)} ms   ratio ${median(ratios).toFixed(1)}`);
  }
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
