// Where a server's time went, from a V8 .cpuprofile (BENCH_CPU_PROF=1 writes them):
//   node --import tsx bench/prof-top.ts FILE.cpuprofile [TOP=25] [SCENARIO | SKIP_SECONDS]
// Prints self time by package/source file and the top functions by self and by inclusive time.
// Only the samples taken while the bench measured this server count (prof/windows.json, written
// by the same run), or only those of SCENARIO's measured part. Without windows, SKIP_SECONDS
// leaves out the start (module loading, seeding) instead.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (!file) throw new Error('usage: prof-top.ts FILE.cpuprofile [TOP] [SCENARIO | SKIP_SECONDS]');
const top = Number(process.argv[3] ?? 25);
const which = process.argv[4];
const skipping = which !== undefined && /^\d+(\.\d+)?$/.test(which);
const skipMicros = skipping ? Number(which) * 1e6 : 0;
const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;

// The measured windows of this server's process (its pid is in the file name: CPU.<date>.<time>.<pid>.…).
type Window = { scenario: string; pid: number; fromUs: number; toUs: number };
const windowsFile = join(dirname(dirname(file)), 'windows.json');
const pid = Number(basename(file).split('.')[3]);
const windows = skipping || !existsSync(windowsFile) ? [] : (JSON.parse(readFileSync(windowsFile, 'utf8')) as Window[]).filter((w) => w.pid === pid && (which === undefined || w.scenario === which));
if (which !== undefined && !skipping && windows.length === 0) throw new Error(`no measured window of ${which} for process ${pid} in ${windowsFile}`);
const counted = (at: number, sinceStart: number) => (windows.length ? windows.some((w) => at >= w.fromUs && at < w.toUs) : sinceStart >= skipMicros);

const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

/** `node_modules/<pkg>`, `src/…` file, `node:<module>`, or the V8 pseudo-frame name. */
function where(url: string, fn: string): string {
  if (!url) return `(${fn || 'native'})`;
  const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pkg) return pkg[1];
  const src = url.match(/\/((?:src|bench)\/.*)$/);
  return src ? src[1] : url.replace(/^file:\/\//, '');
}
const fileOf = (url: string) => url.replace(/^.*node_modules\//, '').replace(/^.*\/(src|bench)\//, '$1/').replace(/^file:\/\//, '');
const fnKey = (n: Node) => `${n.callFrame.functionName || '(anonymous)'}  ${fileOf(n.callFrame.url) || '-'}:${n.callFrame.lineNumber + 1}`;

const self = new Map<string, number>();
const selfWhere = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
let elapsed = 0;
const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);

prof.samples.forEach((id, i) => {
  const dt = prof.timeDeltas[i] ?? 0;
  elapsed += dt;
  const n = byId.get(id)!;
  if (!counted(prof.startTime + elapsed, elapsed)) return;
  if (n.callFrame.functionName === '(idle)') return;
  total += dt;
  add(self, fnKey(n), dt);
  add(selfWhere, where(n.callFrame.url, n.callFrame.functionName), dt);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const k = fnKey(byId.get(cur)!);
    if (!seen.has(k)) add(inclusive, k, dt), seen.add(k);
  }
});

const show = (title: string, m: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((100 * v) / total).toFixed(1).padStart(6)}%  ${k}`);
};
const span = windows.length ? `the measured part of ${[...new Set(windows.map((w) => w.scenario))].join(', ')}` : skipMicros ? `after the first ${skipMicros / 1e6} s` : 'the whole run';
console.log(`${file}: ${(total / 1e6).toFixed(1)} s busy (idle excluded), ${span}`);
show('self time by package / file', selfWhere);
show('self time by function', self);
show('inclusive time by function', inclusive);
