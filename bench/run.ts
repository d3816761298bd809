// `npm run bench`: OpenFactor against bare Fastify, each loaded by autocannon on its own core.
// Scenarios are a list: each names what it needs (started once, shared) and how to build a request.
//
// Env: BENCH_DURATION (measured seconds, 10), BENCH_WARMUP (seconds, 3), BENCH_USERS (1000000),
//      BENCH_CPU_PROF=1 (V8 CPU profiles of the servers in bench/results/prof/<server>/),
//      BENCH_PG_URL (an existing database used to create the bench's own; default the local
//      postgres database; the PostgreSQL scenarios are skipped when it does not answer),
//      BENCH_ONLY (comma-separated scenario names, outbox-sqlite and outbox-postgres included),
//      BENCH_OUTBOX_MESSAGES (SMS per outbox scenario, 3000), BENCH_ROUND_TRIPS (OneTouch, 300);
//      approval-status and onetouch-roundtrip are scenario names too.
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { ROOT, cpuSeconds, freePort, hasTaskset, isRunning, machineBusySeconds, pinSelf, startNode, stop, waitForHttp, type Child } from './procs.ts';
import { benchSeed, dropPostgres, seedPostgres, seedSqlite } from './seed.ts';
import { bareSmppPerSecond, outboxThroughput, type OutboxFigures } from './outbox.ts';
import { benchDevice, createApprovals, onetouchRoundTrip, type RoundTripFigures } from './onetouch.ts';
import { totp } from '../src/core/otp.ts';
import pg from 'pg';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const USERS = Number(process.env.BENCH_USERS ?? 1_000_000);
const CONNECTIONS = 50;
const CPU_PROF = process.env.BENCH_CPU_PROF === '1';
const RESULTS = join(ROOT, 'bench/results');
// The V8 flags `npm start` uses (package.json), given to both servers. A young generation of 16
// MiB semi-spaces: at 32 each scavenge paused longer (it frees the crypto objects and buffers of
// more requests at once) and verify's p99 was higher in 10 of 12 paired rounds.
const SERVER_FLAGS = ['--max-semi-space-size=16'];

// Servers on core 0, this process (seeding, autocannon) on core 1: on a 2-core machine that keeps
// the load generator from competing with the server it measures.
const PINNED = hasTaskset && availableParallelism() >= 2;
const SERVER_CORE = PINNED ? 0 : undefined;
if (PINNED) pinSelf(1);

const tmp = mkdtempSync(join(tmpdir(), 'openfactor-bench-'));
const children: Child[] = [];
const masterKey = randomBytes(32);

// ---------------------------------------------------------------------------------------------
// Targets: started on first use and shared by every scenario that hits them.

interface Target {
  url: string;
  pid: number;
}

async function startServer(name: string, args: string[], env: Record<string, string> = {}): Promise<Target> {
  const port = await freePort();
  const prof = CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(RESULTS, 'prof', name)}`] : [];
  // OpenFactor runs compiled (build/, as `npm start` runs it); the hello-world is TypeScript.
  const loader = args[0].endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = startNode(name, [...SERVER_FLAGS, ...prof, ...loader, ...args], { ...env, PORT: String(port), HOST: '127.0.0.1' }, SERVER_CORE);
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/`, child);
  return { url, pid: child.proc.pid! };
}

const once = <T>(start: () => Promise<T>) => {
  let started: Promise<T> | undefined;
  return () => (started ??= start());
};

const helloWorld = once(() => startServer('hello-world', ['bench/hello.ts']));

const openFactorSqlite = once(async () => {
  const dataDir = join(tmp, 'sqlite');
  const t0 = performance.now();
  const seeded = await seedSqlite(dataDir, masterKey, USERS);
  console.log(`seeded ${USERS.toLocaleString('en')} users into SQLite in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const target = await startServer('openfactor-sqlite', ['build/cli.js', 'serve'], {
    OPENFACTOR_DATA_DIR: dataDir,
    OPENFACTOR_MASTER_KEY: masterKey.toString('hex'),
    // The OneTouch round trip's callback receiver listens on loopback.
    OPENFACTOR_ALLOW_PRIVATE_NETWORKS: '127.0.0.1',
    LOG_LEVEL: 'warn',
  });
  return { ...target, ...seeded };
});

const PG_ADMIN = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PG_DB = `openfactor_bench_${process.pid}`;
let pgSeeded = false;

async function pgReachable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_ADMIN, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

const openFactorPostgres = once(async () => {
  const t0 = performance.now();
  const seeded = await seedPostgres(PG_ADMIN, PG_DB, masterKey, USERS);
  pgSeeded = true;
  console.log(`seeded ${USERS.toLocaleString('en')} users into PostgreSQL in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const target = await startServer('openfactor-postgres', ['build/cli.js', 'serve'], {
    OPENFACTOR_DATA_DIR: join(tmp, 'pg'),
    DATABASE_URL: seeded.databaseUrl,
    OPENFACTOR_MASTER_KEY: masterKey.toString('hex'),
    // The OneTouch round trip's callback receiver listens on loopback.
    OPENFACTOR_ALLOW_PRIVATE_NETWORKS: '127.0.0.1',
    LOG_LEVEL: 'warn',
  });
  return { ...target, ...seeded };
});

/** 1,000 approval requests for the top user (who gets a device), created through the API. */
const approvalUuids = async (of: Target & { apiKey: string; ids: { hi: number } }) => {
  await benchDevice(of.url, of.apiKey, of.ids.hi);
  return createApprovals(of.url, of.apiKey, of.ids.hi, 1000);
};

/**
 * verify/{token}/{id}, each request for a user not verified before in this run (a token is
 * accepted once): correct tokens walk the ids up from the bottom, wrong ones down from the top.
 * The paths of a whole run are computed before it, so the load generator spends its time
 * sending, not in HMAC (a token made up to 13 s early is at most one step old: accepted).
 */
function verifyLoad(of: Target & { apiKey: string; ids: { lo: number; hi: number } }, correct: boolean): Load {
  let next = correct ? of.ids.lo : of.ids.hi;
  const make = () => {
    const id = correct ? next++ : next--;
    const token = totp(benchSeed(id), Date.now(), { digits: 7 });
    const sent = correct ? token : token.slice(0, 6) + String((Number(token[6]) + 1) % 10);
    return `/protected/json/verify/${sent}/${id}`;
  };
  const ready = Array.from({ length: Math.min(of.ids.hi - of.ids.lo, 30_000 * (WARMUP + DURATION)) >> 1 }, make);
  let i = 0;
  return { ...of, headers: { 'X-Authy-API-Key': of.apiKey }, path: () => (i < ready.length ? ready[i++] : make()) };
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

interface Load extends Target {
  headers?: Record<string, string>;
  /** Called for every request: the path to hit. */
  path(): string;
}

interface Scenario {
  name: string;
  setup(): Promise<Load>;
  /** The status every answer must have (default 200). */
  expect?: number;
  /** Run only when this answers true (PostgreSQL reachable). */
  when?(): Promise<boolean>;
  goals?: { maxP99Ms?: number; minRatio?: { to: string; value: number } };
}

const scenarios: Scenario[] = [
  {
    name: 'hello-world',
    setup: async () => ({ ...(await helloWorld()), path: () => '/' }),
  },
  {
    name: 'user-status',
    setup: async () => {
      const of = await openFactorSqlite();
      return {
        ...of,
        headers: { 'X-Authy-API-Key': of.apiKey },
        path: () => `/protected/json/users/${randomInt(of.ids.lo, of.ids.hi + 1)}/status`,
      };
    },
    goals: { maxP99Ms: 10, minRatio: { to: 'hello-world', value: 0.35 } },
  },
  {
    name: 'verify-correct-sqlite',
    setup: async () => verifyLoad(await openFactorSqlite(), true),
    goals: { maxP99Ms: 10, minRatio: { to: 'hello-world', value: 0.25 } },
  },
  {
    name: 'verify-wrong-sqlite',
    expect: 401,
    setup: async () => verifyLoad(await openFactorSqlite(), false),
  },
  {
    // The customer's poll loop: status of existing approval requests (one per read, at random).
    name: 'approval-status',
    setup: async () => {
      const of = await openFactorSqlite();
      const uuids = await approvalUuids(of);
      return { ...of, headers: { 'X-Authy-API-Key': of.apiKey }, path: () => `/onetouch/json/approval_requests/${uuids[randomInt(uuids.length)]}` };
    },
  },
  {
    name: 'verify-correct-postgres',
    when: pgReachable,
    setup: async () => verifyLoad(await openFactorPostgres(), true),
    goals: { minRatio: { to: 'hello-world', value: 0.12 } },
  },
  {
    name: 'verify-wrong-postgres',
    when: pgReachable,
    expect: 401,
    setup: async () => verifyLoad(await openFactorPostgres(), false),
  },
];

// ---------------------------------------------------------------------------------------------
// Measuring.

interface Figures {
  name: string;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  unexpected: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** Share of one core each side used: a server well below 100% was not the bottleneck. */
  serverCpu?: number;
  loaderCpu: number;
  /** Cores' worth of CPU used by everything else meanwhile (other processes, the kernel, steal). */
  otherCpu?: number;
}

/**
 * One autocannon run of WARMUP + DURATION seconds on the same 50 connections; figures count only
 * the answers completed after the warm-up (new connections would be warmed up by nobody).
 */
async function fire(load: Load, name: string, expect = 200): Promise<Figures> {
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  let measuring = false;
  let window0: { t: number; server?: number; machine?: number; self: NodeJS.CpuUsage } | undefined;
  const warmedUp = setTimeout(() => {
    measuring = true;
    window0 = { t: performance.now(), server: cpuSeconds(load.pid), machine: machineBusySeconds(), self: process.cpuUsage() };
  }, WARMUP * 1000);
  const instance = autocannon({
    url: load.url,
    connections: CONNECTIONS,
    duration: WARMUP + DURATION,
    headers: load.headers,
    // Every scenario builds its request per call, even a constant one, so the load generator
    // does the same work per request in each and the ratio compares the servers only.
    // autocannon hands each call a fresh copy of its defaults: setting the path on it is enough.
    requests: [{ setupRequest: (req) => ((req.path = load.path()), req) }],
  });
  // autocannon's own histogram keeps whole milliseconds; ours keeps the exact times.
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (!measuring) return;
    latencies.push(ms);
    statusCodes[status] = (statusCodes[status] ?? 0) + 1;
  });
  const r = await instance;
  clearTimeout(warmedUp);
  if (!window0) throw new Error(`${name}: the run ended before its warm-up did`);
  const wall = (performance.now() - window0.t) / 1000;
  const server1 = cpuSeconds(load.pid);
  const machine1 = machineBusySeconds();
  const self = process.cpuUsage(window0.self);
  const serverCpu = window0.server === undefined || server1 === undefined ? undefined : (server1 - window0.server) / wall;
  const loaderCpu = (self.user + self.system) / 1e6 / wall;

  const sorted = Float64Array.from(latencies).sort();
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
  return {
    name,
    reqPerSec: latencies.length / wall,
    p50Ms: pct(50),
    p99Ms: pct(99),
    requests: latencies.length,
    /** Answers with another status than the scenario expects (invalid figures). */
    unexpected: latencies.length - (statusCodes[String(expect)] ?? 0),
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes,
    serverCpu,
    loaderCpu,
    otherCpu: window0.machine === undefined || machine1 === undefined || serverCpu === undefined ? undefined : Math.max(0, (machine1 - window0.machine) / wall - serverCpu - loaderCpu),
  };
}

/** One request before the load: a wrong key or path should fail loudly, not as 500k non-2xx. */
async function probe(load: Load, name: string, expect: number): Promise<void> {
  const res = await fetch(load.url + load.path(), { headers: load.headers });
  if (res.status !== expect) throw new Error(`${name}: probe answered ${res.status}: ${await res.text()}`);
}

async function main(): Promise<number> {
  console.log(
    `OpenFactor bench: ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s measured per scenario; ` +
      (PINNED ? 'servers on core 0, load generator on core 1' : 'NOT pinned (no taskset or fewer than 2 cores)'),
  );
  const results: Figures[] = [];
  const only = process.env.BENCH_ONLY?.split(',');
  for (const s of scenarios) {
    if (only && !only.includes(s.name) && s.name !== 'hello-world') continue;
    if (s.when && !(await s.when())) {
      console.log(`${s.name}: skipped (PostgreSQL at ${PG_ADMIN} does not answer)`);
      continue;
    }
    const load = await s.setup();
    await probe(load, s.name, s.expect ?? 200);
    process.stdout.write(`${s.name}: warm-up, then measuring… `);
    const f = await fire(load, s.name, s.expect ?? 200);
    console.log(`${Math.round(f.reqPerSec).toLocaleString('en')} req/s`);
    results.push(f);
  }
  const roundTrips: RoundTripFigures[] = [];
  if (!only || only.includes('onetouch-roundtrip')) {
    const of = await openFactorSqlite();
    const hello = await helloWorld();
    process.stdout.write('onetouch-roundtrip: ');
    roundTrips.push(
      await onetouchRoundTrip('onetouch-roundtrip', {
        url: of.url,
        helloUrl: hello.url + '/',
        apiKey: of.apiKey,
        appId: of.appId,
        authyId: of.ids.hi - 1,
        databaseUrl: `sqlite:${join(tmp, 'sqlite', 'openfactor.db')}`,
        masterKey,
        requests: ROUND_TRIPS,
      }),
    );
    console.log(`p50 ${roundTrips[0].callbackP50Ms.toFixed(1)} ms`);
  }
  for (const c of children) if (!isRunning(c)) throw new Error(`${c.name} died during the run:\n${c.output()}`);
  await Promise.all(children.splice(0).map(stop)); // the outbox scenarios get the server core to themselves
  const outbox = await outboxScenarios(only);
  return report(results, outbox, roundTrips);
}

const OUTBOX_MESSAGES = Number(process.env.BENCH_OUTBOX_MESSAGES ?? 3000);
const ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS ?? 300);

async function outboxScenarios(only?: string[]): Promise<OutboxFigures[]> {
  const wanted = (n: string) => !only || only.includes(n);
  if (!wanted('outbox-sqlite') && !wanted('outbox-postgres')) return [];
  process.stdout.write('outbox baseline (SMPP provider alone): ');
  const baselinePerSecond = await bareSmppPerSecond(OUTBOX_MESSAGES);
  console.log(`${Math.round(baselinePerSecond).toLocaleString('en')} msg/s`);
  const flags = (name: string) => [...SERVER_FLAGS, ...(CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(RESULTS, 'prof', name)}`] : [])];
  const common = { tmp, masterKey, messages: OUTBOX_MESSAGES, core: SERVER_CORE, pgAdmin: PG_ADMIN, baselinePerSecond };
  const out: OutboxFigures[] = [];
  if (wanted('outbox-sqlite')) {
    process.stdout.write('outbox-sqlite: ');
    out.push(await outboxThroughput('outbox-sqlite', 'sqlite', { ...common, pgName: '', serverFlags: flags('outbox-sqlite') }));
    console.log(`${Math.round(out.at(-1)!.perSecond).toLocaleString('en')} msg/s`);
  }
  if (wanted('outbox-postgres')) {
    if (!(await pgReachable())) console.log('outbox-postgres: skipped (PostgreSQL does not answer)');
    else {
      const pgName = `${PG_DB}_outbox`;
      process.stdout.write('outbox-postgres: ');
      try {
        out.push(await outboxThroughput('outbox-postgres', 'postgres', { ...common, pgName, serverFlags: flags('outbox-postgres') }));
      } finally {
        await dropPostgres(PG_ADMIN, pgName).catch(() => {});
      }
      console.log(`${Math.round(out.at(-1)!.perSecond).toLocaleString('en')} msg/s`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Report.

function report(results: Figures[], outbox: OutboxFigures[], roundTrips: RoundTripFigures[]): number {
  const pctOf = (x?: number) => (x === undefined ? '-' : `${Math.round(x * 100)}%`);
  const rows = [
    ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'unexpected', 'errors', 'server CPU', 'loader CPU', 'other CPU'],
    ...results.map((f) => [
      f.name,
      Math.round(f.reqPerSec).toLocaleString('en'),
      f.p50Ms.toFixed(2),
      f.p99Ms.toFixed(2),
      String(f.unexpected),
      String(f.errors + f.timeouts),
      pctOf(f.serverCpu),
      pctOf(f.loaderCpu),
      pctOf(f.otherCpu),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  console.log('\n' + rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n') + '\n');

  const checks: { what: string; value: number; goal: string; ok: boolean }[] = [];
  const byName = new Map(results.map((f) => [f.name, f]));
  for (const s of scenarios) {
    const f = byName.get(s.name);
    if (!f) continue;
    const { maxP99Ms, minRatio } = s.goals ?? {};
    if (minRatio) {
      const base = byName.get(minRatio.to);
      if (!base) continue;
      const ratio = f.reqPerSec / base.reqPerSec;
      checks.push({ what: `${s.name} req/s ÷ ${minRatio.to} req/s`, value: ratio, goal: `≥ ${minRatio.value}`, ok: ratio >= minRatio.value });
    }
    if (maxP99Ms !== undefined) checks.push({ what: `${s.name} p99 (ms)`, value: f.p99Ms, goal: `≤ ${maxP99Ms}`, ok: f.p99Ms <= maxP99Ms });
  }
  for (const c of checks) console.log(`${c.ok ? 'PASS' : 'MISS'}  ${c.what}: ${c.value.toFixed(2)}  (goal ${c.goal})`);
  if (outbox.length) {
    console.log('\nOutbox: SMS from API request to the local SMSC (SMPP), ratio to the SMPP provider alone in this run');
    for (const o of outbox) {
      console.log(`${o.name.padEnd(16)} ${Math.round(o.perSecond).toLocaleString('en').padStart(6)} msg/s  p50 ${o.p50Ms.toFixed(1)} ms  p99 ${o.p99Ms.toFixed(1)} ms  ratio ${o.ratio.toFixed(2)} (baseline ${Math.round(o.baselinePerSecond).toLocaleString('en')} msg/s, ${o.messages} messages)`);
    }
  }

  for (const r of roundTrips) {
    console.log('\nOneTouch round trip (create → device notified → device approves → callback received), one at a time');
    console.log(
      `${r.name}: notified p50 ${r.notifiedP50Ms.toFixed(1)} ms p99 ${r.notifiedP99Ms.toFixed(1)} ms; callback p50 ${r.callbackP50Ms.toFixed(1)} ms p99 ${r.callbackP99Ms.toFixed(1)} ms; ` +
        `ratio ${r.ratio.toFixed(2)} to four sequential hello-world requests (${r.baselineMs.toFixed(2)} ms), ${r.requests} requests`,
    );
  }
  const failed = results.filter((f) => f.unexpected + f.errors + f.timeouts > 0);
  for (const f of failed) {
    console.log(`\n!!! ${f.name}: ${f.unexpected} unexpected statuses, ${f.errors} errors, ${f.timeouts} timeouts; status codes ${JSON.stringify(f.statusCodes)}. THE FIGURES ABOVE ARE NOT VALID.`);
  }
  for (const f of results) {
    if ((f.otherCpu ?? 0) > 0.15) console.log(`note: ${f.name}: other processes used ${pctOf(f.otherCpu)} of a core meanwhile: the machine was not quiet, figures are disturbed.`);
    else if (f.serverCpu !== undefined && f.serverCpu < 0.9) console.log(`note: ${f.name}'s server used ${pctOf(f.serverCpu)} of its core: the load generator may be the limit.`);
    else if (f.loaderCpu > 0.95) console.log(`note: ${f.name}: the load generator used ${pctOf(f.loaderCpu)} of its core: its latencies include its own queueing.`);
  }

  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, 'latest.json');
  const json = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    pinned: PINNED,
    connections: CONNECTIONS,
    warmupSeconds: WARMUP,
    durationSeconds: DURATION,
    users: USERS,
    results,
    outbox,
    roundTrips,
    checks,
    valid: failed.length === 0,
  };
  writeFileSync(file, JSON.stringify(json, null, 2) + '\n');
  console.log(`\nwrote ${file}`);
  return failed.length > 0 ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Clean-up, on success, failure and Ctrl-C alike.

async function cleanup(): Promise<void> {
  await Promise.all(children.map(stop));
  if (pgSeeded) await dropPostgres(PG_ADMIN, PG_DB).catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => void cleanup().finally(() => process.exit(130)));
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error(`\nbench failed: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  await cleanup();
}
process.exit(code);
