// The load generator: wrk (a C program, Debian package `wrk`) where installed, autocannon
// otherwise. wrk sends 3–5 times more requests per core than autocannon, so the baseline
// (hello-world) is measured by what the server can do, not by what the generator can send.
// Each run is given its paths in advance (random users, tokens computed beforehand): the
// generator spends its time sending, and replays nothing a scenario means to send once.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { cpuSeconds, machineCpuSeconds } from './procs.ts';

export const hasWrk = (() => {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    // wrk --version exits 1 after printing its version.
    return (e as { status?: number }).status === 1;
  }
})();

export interface Run {
  url: string;
  headers?: Record<string, string>;
  /** Every path this run may send, in order; sent once each unless the run outlasts them. */
  paths: string[];
  connections: number;
  warmupSeconds: number;
  seconds: number;
  /**
   * The server side's processes, for their CPU time: OpenFactor, and PostgreSQL's when it serves
   * it. Asked again at the end: backends its pool opened meanwhile count too.
   */
  pids: () => number[];
  /** For wrk's path files. */
  tmp: string;
  /** Told the measured part's start and end (CLOCK_MONOTONIC µs, the clock of V8's CPU profiles). */
  onMeasured?: (window: { fromUs: number; toUs: number }) => void;
}

/** Now on CLOCK_MONOTONIC, in µs: a server's .cpuprofile stamps its samples on the same clock. */
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

export interface Measured {
  requests: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  statusCodes: Record<string, number>;
  /** Connection errors and timeouts. */
  errors: number;
  /** Share of a core the server used while measured. */
  serverCpu?: number;
  /** The server's CPU time per request, microseconds. */
  serverCpuUsPerRequest?: number;
  /** Of that, OpenFactor's own process (the rest is PostgreSQL's, on that dialect). */
  openfactorCpuUsPerRequest?: number;
  loaderCpu: number;
  /** Cores' worth of CPU everything else used meanwhile (other processes, steal). */
  otherCpu?: number;
  /** Cores' worth of the kernel's softirq work meanwhile, charged to no process: mostly the requests' own network. */
  softirqCpu?: number;
  /** More paths were needed than given: repeated paths may have been answered otherwise. */
  ranOut: boolean;
  /** How many of the paths given it used, warm-up included: where a next measurement starts. */
  sent: number;
  /** Latency quantiles in ms at 0.1% steps (1,000), so that measurements can be merged. */
  quantilesMs: number[];
}

/** CPU seconds of each server-side process now (the first is OpenFactor's own). */
function serverSeconds(pids: number[]): Map<number, number> | undefined {
  const now = new Map(pids.map((pid) => [pid, cpuSeconds(pid)] as const).filter((e): e is [number, number] => e[1] !== undefined));
  return now.has(pids[0]) ? now : undefined;
}

/** CPU seconds the server side used since `before`: a process started meanwhile counts whole, one gone counts nothing more. */
function serverSecondsSince(run: Run, before: Map<number, number> | undefined): { used: number; own: number } | undefined {
  const pids = [...new Set([...(before?.keys() ?? []), ...run.pids()])];
  const after = before && serverSeconds(pids);
  if (!before || !after) return undefined;
  let used = 0;
  for (const [pid, s] of after) used += s - (before.get(pid) ?? 0);
  return { used, own: after.get(pids[0])! - before.get(pids[0])! };
}

/** A warm-up on the first paths, then the measured run on the ones after. */
export async function measure(run: Run): Promise<Measured> {
  return hasWrk ? byWrk(run) : byAutocannon(run);
}

/**
 * The subject and its baseline in turns, `slices` of each (baseline, subject, baseline, …,
 * subject, baseline), every slice on the paths after the last one's. This machine's speed drifts
 * within seconds (a hello-world measured just before and just after one scenario: 60,571 and
 * 37,144 req/s), so a baseline measured once before and once after weighs such a drift on one side
 * only; slices of two seconds let both meet it alike. The subject is warmed up first, the baseline
 * for a second (it ran just before).
 */
export async function measureInTurns(subject: Run, baseline: Run, slices: number): Promise<{ subject: Measured; baseline: Measured; baselineSlices: Measured[] }> {
  const r = await measureAmongTurns([subject], baseline, slices);
  return { subject: r.subjects[0], baseline: r.baseline, baselineSlices: r.baselineSlices };
}

/**
 * Several subjects and one baseline in turns: rounds of the baseline then every subject, the
 * subjects' order rotated each round so that none always follows the baseline, and the baseline
 * once more at the end. Subjects compared with each other (one path at several database sizes)
 * then meet the machine's minute alike, as each meets it with the baseline: measured one after
 * the other, such a comparison moved by a fifth from one invocation to the next.
 */
export async function measureAmongTurns(subjects: Run[], baseline: Run, slices: number): Promise<{ subjects: Measured[]; baseline: Measured; baselineSlices: Measured[] }> {
  const seconds = Math.max(1, Math.round(subjects[0].seconds / slices)); // wrk takes whole seconds
  const turns = subjects.map((subject) => {
    // A slice's paths: the ones after the last slice's, at most three times what it should need
    // (wrk formats every path of its file before it starts).
    const perSecond = subject.paths.length / (subject.warmupSeconds + subject.seconds);
    let at = 0;
    let wrapped = false;
    const ours: Measured[] = [];
    const slice = async (sliceSeconds: number, onMeasured = subject.onMeasured) => {
      // Past the last path, from the first again: told as ran out (a token path's figures are void).
      if (at >= subject.paths.length) (at = 0), (wrapped = true);
      const paths = subject.paths.slice(at, at + Math.max(1, Math.ceil(perSecond * sliceSeconds * 3)));
      const m = await measure({ ...subject, warmupSeconds: 0, seconds: sliceSeconds, paths, onMeasured });
      at += m.sent;
      return { ...m, ranOut: m.ranOut || wrapped };
    };
    return { subject, slice, ours };
  });
  const baselineSlice = () => measure({ ...baseline, warmupSeconds: 0, seconds });
  await measure({ ...baseline, warmupSeconds: 0, seconds: 1, onMeasured: undefined });
  for (const t of turns) if (t.subject.warmupSeconds > 0) await t.slice(t.subject.warmupSeconds, undefined);
  const theirs: Measured[] = [await baselineSlice()];
  for (let i = 0; i < slices; i++) {
    for (let k = 0; k < turns.length; k++) {
      const t = turns[(i + k) % turns.length];
      t.ours.push(await t.slice(seconds));
    }
    theirs.push(await baselineSlice());
  }
  return { subjects: turns.map((t) => merged(t.ours)), baseline: merged(theirs), baselineSlices: theirs };
}

/** Measurements of one server as one: counts and CPU added up, latencies as the mixture of theirs. */
export function merged(ms: Measured[]): Measured {
  const sum = (f: (m: Measured) => number | undefined) => {
    let t = 0;
    for (const m of ms) {
      const v = f(m);
      if (v === undefined) return undefined;
      t += v;
    }
    return t;
  };
  const requests = sum((m) => m.requests)!;
  const seconds = sum((m) => m.seconds)!;
  const statusCodes: Record<string, number> = {};
  for (const m of ms) for (const [k, v] of Object.entries(m.statusCodes)) statusCodes[k] = (statusCodes[k] ?? 0) + v;
  const serverUs = sum((m) => (m.serverCpuUsPerRequest === undefined ? undefined : m.serverCpuUsPerRequest * m.requests));
  const ownUs = sum((m) => (m.openfactorCpuUsPerRequest === undefined ? undefined : m.openfactorCpuUsPerRequest * m.requests));
  const softirqSeconds = sum((m) => (m.softirqCpu === undefined ? undefined : m.softirqCpu * m.seconds));
  const quantile = mixtureQuantile(ms);
  return {
    requests,
    seconds,
    p50Ms: quantile(0.5),
    p99Ms: quantile(0.99),
    statusCodes,
    errors: sum((m) => m.errors)!,
    serverCpu: serverUs === undefined ? undefined : serverUs / 1e6 / seconds,
    serverCpuUsPerRequest: serverUs === undefined ? undefined : serverUs / requests,
    openfactorCpuUsPerRequest: ownUs === undefined ? undefined : ownUs / requests,
    // The generator's and other processes' shares: the largest of a slice (what warnings are about).
    loaderCpu: Math.max(...ms.map((m) => m.loaderCpu)),
    otherCpu: ms.some((m) => m.otherCpu === undefined) ? undefined : Math.max(...ms.map((m) => m.otherCpu!)),
    softirqCpu: softirqSeconds === undefined ? undefined : softirqSeconds / seconds,
    ranOut: ms.some((m) => m.ranOut),
    sent: sum((m) => m.sent)!,
    quantilesMs: Array.from({ length: 1000 }, (_, k) => quantile((k + 1) / 1000)),
  };
}

/** The quantile of all the requests of several measurements, each given as its 1,000 quantiles. */
function mixtureQuantile(ms: Measured[]): (q: number) => number {
  const points = ms.flatMap((m) => m.quantilesMs.map((v) => ({ v, w: m.requests / m.quantilesMs.length }))).sort((a, b) => a.v - b.v);
  const total = points.reduce((t, p) => t + p.w, 0);
  return (q) => {
    let seen = 0;
    for (const p of points) if ((seen += p.w) >= q * total - 1e-9) return p.v;
    return points.at(-1)?.v ?? Number.NaN;
  };
}

// ---------------------------------------------------------------------------------------------
// wrk: one thread (the generator gets one core), paths read by a Lua script, statuses counted.

const SCRIPT = `
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  reqs = {}
  for line in io.lines(args[1]) do
    -- "POST <path>\t<form body>", or a path to GET.
    local path, body = line:match("^POST (%S+)\t(.*)$")
    if path then
      local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
      for k, v in pairs(wrk.headers) do headers[k] = v end
      reqs[#reqs + 1] = wrk.format("POST", path, headers, body)
    else
      reqs[#reqs + 1] = wrk.format(nil, line)
    end
  end
  i = 0
  statuses = {}
  -- The CPU this process used formatting its requests: left out of the generator's share.
  init_cpu = os.clock()
end
function request()
  i = i + 1
  if i > #reqs then i = 1; ranout = 1 end
  return reqs[i]
end
function response(status) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency)
  local merged, out, ran, sent, q, init = {}, {}, 0, 0, {}, 0
  for _, t in ipairs(threads) do
    init = init + (t:get("init_cpu") or 0)
    for k, v in pairs(t:get("statuses")) do merged[k] = (merged[k] or 0) + v end
    ran = ran + (t:get("ranout") or 0)
    sent = sent + (t:get("i") or 0)
  end
  for k, v in pairs(merged) do out[#out + 1] = string.format('"%d":%d', k, v) end
  for p = 1, 1000 do q[p] = string.format('%d', latency:percentile(p / 10)) end
  io.write(string.format('WRK_JSON {"requests":%d,"us":%d,"errors":%d,"p50":%d,"p99":%d,"ranout":%d,"sent":%d,"cpu":%.6f,"init":%.6f,"q":[%s],"statuses":{%s}}\\n',
    summary.requests, summary.duration, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), ran, sent, os.clock(), init, table.concat(q, ","), table.concat(out, ",")))
end
`;

/** CPU seconds of this process's children that have exited (wrk, once waited for). */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100; // fields 16 (cutime), 17 (cstime), in ticks (100/s on Linux)
}

/** The file wrk reads its paths from (written before a measurement starts: not the server's time). */
function pathFile(run: Run, paths: string[], file: string): string {
  writeFileSync(join(run.tmp, file), paths.join('\n') + '\n');
  writeFileSync(join(run.tmp, 'paths.lua'), SCRIPT);
  return file;
}

async function wrk(run: Run, seconds: number, file: string) {
  const headers = Object.entries(run.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const args = ['-t1', `-c${run.connections}`, `-d${seconds}s`, '--timeout', '10s', ...headers, '-s', join(run.tmp, 'paths.lua'), run.url, '--', join(run.tmp, file)];
  const proc = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((ok) => proc.once('exit', ok));
  const json = /WRK_JSON (.*)/.exec(out)?.[1];
  if (code !== 0 || !json) throw new Error(`wrk exited ${code}:\n${out}`);
  return JSON.parse(json) as { requests: number; us: number; errors: number; p50: number; p99: number; ranout: number; sent: number; cpu: number; init: number; q: number[]; statuses: Record<string, number> };
}

async function byWrk(run: Run): Promise<Measured> {
  // The warm-up gets a tenth of the paths (it is short), the measured run the rest.
  const cut = Math.floor(run.paths.length * (run.warmupSeconds / (run.warmupSeconds + run.seconds)));
  if (run.warmupSeconds > 0) await wrk(run, run.warmupSeconds, pathFile(run, run.paths.slice(0, Math.max(1, cut)), 'warmup.txt'));
  const file = pathFile(run, run.paths.slice(cut), 'measured.txt');
  const before = { server: serverSeconds(run.pids()), machine: machineCpuSeconds(), loader: childrenCpuSeconds() };
  const fromUs = monotonicUs();
  const r = await wrk(run, run.seconds, file);
  run.onMeasured?.({ fromUs, toUs: monotonicUs() });
  const seconds = r.us / 1e6;
  // The generator's share while it sent (formatting its requests beforehand is not the limit);
  // all of its CPU is still left out of what other processes used.
  const loaderCpu = (r.cpu - r.init) / seconds;
  const loaderAll = (childrenCpuSeconds() - before.loader) / seconds;
  const sent = r.ranout > 0 ? run.paths.length : cut + r.sent;
  return figures(run, before, { requests: r.requests, seconds, p50Ms: r.p50 / 1000, p99Ms: r.p99 / 1000, statusCodes: r.statuses, errors: r.errors, loaderCpu, ranOut: r.ranout > 0, sent, quantilesMs: r.q.map((us) => us / 1000) }, loaderAll);
}

type MachineCpu = ReturnType<typeof machineCpuSeconds>;

function figures(run: Run, before: { server?: Map<number, number>; machine?: MachineCpu }, m: Omit<Measured, 'serverCpu' | 'serverCpuUsPerRequest' | 'openfactorCpuUsPerRequest' | 'otherCpu' | 'softirqCpu'>, loaderAll = m.loaderCpu): Measured {
  const since = serverSecondsSince(run, before.server);
  const used = since?.used;
  const machine = machineCpuSeconds();
  const serverCpu = used === undefined ? undefined : used / m.seconds;
  const then = before.machine;
  const otherCpu = serverCpu === undefined || machine === undefined || then === undefined ? undefined : Math.max(0, (machine.busy - then.busy) / m.seconds - serverCpu - loaderAll);
  return {
    ...m,
    serverCpu,
    serverCpuUsPerRequest: used === undefined ? undefined : (used * 1e6) / m.requests,
    openfactorCpuUsPerRequest: since === undefined ? undefined : (since.own * 1e6) / m.requests,
    otherCpu,
    softirqCpu: machine === undefined || then === undefined ? undefined : (machine.softirq - then.softirq) / m.seconds,
  };
}

// ---------------------------------------------------------------------------------------------
// autocannon, where wrk is not installed: the same paths, warm-up then measured on one run.

/** A prepared request: `POST <path>\t<form body>`, or a path to GET. */
export function pathOf(line: string): { method: 'GET' | 'POST'; path: string; body?: string } {
  const m = /^POST (\S+)\t(.*)$/.exec(line);
  return m ? { method: 'POST', path: m[1], body: m[2] } : { method: 'GET', path: line };
}

async function byAutocannon(run: Run): Promise<Measured> {
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  let i = 0;
  let ranOut = false;
  let measuring = false;
  let before: { t: number; fromUs: number; server?: Map<number, number>; machine?: MachineCpu; self: NodeJS.CpuUsage } | undefined;
  const warmedUp = setTimeout(() => {
    measuring = true;
    before = { t: performance.now(), fromUs: monotonicUs(), server: serverSeconds(run.pids()), machine: machineCpuSeconds(), self: process.cpuUsage() };
  }, run.warmupSeconds * 1000);
  const instance = autocannon({
    url: run.url,
    connections: run.connections,
    duration: run.warmupSeconds + run.seconds,
    headers: run.headers,
    requests: [
      {
        setupRequest: (req) => {
          if (i === run.paths.length) (i = 0), (ranOut = true);
          const { method, path, body } = pathOf(run.paths[i++]);
          Object.assign(req, { method, path, body, headers: body === undefined ? run.headers : { ...run.headers, 'content-type': 'application/x-www-form-urlencoded' } });
          return req;
        },
      },
    ],
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (!measuring) return;
    latencies.push(ms);
    statusCodes[status] = (statusCodes[status] ?? 0) + 1;
  });
  const r = await instance;
  clearTimeout(warmedUp);
  if (!before) throw new Error('the run ended before its warm-up did');
  run.onMeasured?.({ fromUs: before.fromUs, toUs: monotonicUs() });
  const seconds = (performance.now() - before.t) / 1000;
  const self = process.cpuUsage(before.self);
  const sorted = Float64Array.from(latencies).sort();
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
  const quantilesMs = Array.from({ length: 1000 }, (_, k) => pct((k + 1) / 10));
  return figures(run, before, {
    requests: latencies.length,
    seconds,
    p50Ms: pct(50),
    p99Ms: pct(99),
    statusCodes,
    errors: r.errors + r.timeouts,
    loaderCpu: (self.user + self.system) / 1e6 / seconds,
    ranOut,
    sent: ranOut ? run.paths.length : i,
    quantilesMs,
  });
}
