// The systemd units in docs/systemd pass `systemd-analyze verify` (where systemd is installed), and
// what they run exists in the build: `build/cli.js serve` and `backup --to`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const units = join(root, 'docs/systemd');
const analyze = spawnSync('systemd-analyze', ['--version']).status === 0;

/** `systemd-analyze verify` on copies of the units (its messages name the problems). */
function verify(dir: string): string {
  const files = readdirSync(dir).map((f) => join(dir, f));
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', ...files], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`.trim();
}

test('the unit files are valid systemd units', { skip: !analyze && 'systemd-analyze is not installed here' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'openfactor-units-'));
  try {
    for (const f of readdirSync(units)) copyFileSync(join(units, f), join(dir, f));
    assert.equal(verify(dir), '', 'systemd-analyze verify has nothing to say');
    // The check can fail: a misspelt setting is reported.
    const unit = join(dir, 'openfactor.service');
    writeFileSync(unit, readFileSync(unit, 'utf8').replace('Restart=on-failure', 'Restrat=on-failure'));
    assert.match(verify(dir), /Unknown key 'Restrat'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the units run commands the build has', () => {
  const service = readFileSync(join(units, 'openfactor.service'), 'utf8');
  assert.match(service, /^ExecStart=\/usr\/bin\/node \/opt\/openfactor\/build\/cli\.js serve$/m);
  assert.match(service, /^TimeoutStopSec=(\d+)$/m);
  // systemd waits longer than OpenFactor's default grace period (10 s) plus its closing margin (5 s).
  assert.ok(Number(/^TimeoutStopSec=(\d+)$/m.exec(service)![1]) > 15);
  assert.match(readFileSync(join(units, 'openfactor-backup.service'), 'utf8'), /build\/cli\.js backup --to /);
  assert.ok(existsSync(join(root, 'build/cli.js')), 'npm test builds it first');
  const help = spawnSync(process.execPath, [join(root, 'build/cli.js'), '--help'], { encoding: 'utf8' }).stdout;
  assert.match(help, /^ {2}serve /m);
  assert.match(help, /^ {2}backup --to FILE /m);
});
