// `npm test` leaves nothing running: a process that a test file left behind when it died (a
// timeout, a crash) is found by the run's mark in its environment and stopped after the half.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stoppedWithTest } from '../support/process.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return false;
  }
};

test('a process left by a test file that died is stopped by the runner', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'openfactor-runner-'));
  const pidFile = join(dir, 'pid');
  // A runner of its own, not a child of this one (node:test would take its output as ours).
  const env: NodeJS.ProcessEnv = { ...process.env, OPENFACTOR_TEST_DB: 'sqlite', LEFTOVER_PID_FILE: pidFile };
  delete env.NODE_TEST_CONTEXT;
  try {
    const run = stoppedWithTest(
      spawn(process.execPath, ['test/run.mjs', 'test/support/fixtures/leaves-a-process.ts'], { cwd: root, env }),
    );
    let out = '';
    run.stdout!.on('data', (d) => (out += d));
    run.stderr!.on('data', (d) => (out += d));
    const status = await new Promise((resolve) => run.once('exit', resolve));
    assert.equal(status, 1, 'the file that died fails the run');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.equal(alive(pid), false, `process ${pid} was left running`);
    assert.match(out, new RegExp(`after the SQLite half: stopped 1 process\\(es\\) the tests left running:\\n {2}${pid} .*setInterval`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
