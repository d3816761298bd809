// `npm run bench`: every verify path and user status of OpenFactor, each as a ratio to a bare
// Fastify hello-world measured in turns with it (slices of 2 s, alternating), on the same core, by
// the same load generator (wrk where installed, autocannon otherwise) on the other core. Every
// request is for a random user, each correct token or code is sent once, and the server's CPU
// time per request is reported beside its requests per second.
//
// Env: BENCH_DURATION (measured seconds, 10), BENCH_WARMUP (seconds, 3), BENCH_USERS (1000000),
//      BENCH_SLICES (the turns a scenario and its hello-world take, 5),
//      BENCH_CPU_PROF=1 (V8 CPU profiles of the servers in bench/results/prof/<server>/),
//      BENCH_SQLITE_CACHE_MB (a quarter of the memory) and BENCH_SQLITE_PREWARM (1): SQLite's page cache,
//      BENCH_PG_URL (an existing database used to create the bench's own; default a cluster the
//      bench makes and removes, with BENCH_PG_SHARED_BUFFERS (a quarter of the memory), or the
//      local postgres database where it cannot; PostgreSQL scenarios are skipped when it does not answer),
//      BENCH_ONLY (comma-separated scenario names, outbox-sqlite and outbox-postgres included),
//      BENCH_OUTBOX_MESSAGES (SMS per outbox scenario, 10000), BENCH_ROUND_TRIPS (OneTouch, 300);
//      approval-status and onetouch-roundtrip are scenario names too, and the Twilio Verify v2
//      ones verify-v2-check[-wrong]-<dialect> and verify-v2-start-<dialect>; import-sqlite and
//      import-postgres (BENCH_IMPORT_USERS, default BENCH_USERS) run `users import`;
//      BENCH_SIZES=10000,10000000 adds every path at those sizes (names such as
//      verify-sms-sqlite-10M; user status at every size and the main one in the same turns);
//      off by default, as seeding 10M users takes minutes.
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { quarterOfMemoryMiB, startBenchCluster } from './postgres-cluster.ts';
import { ROOT, freePort, hasTaskset, isRunning, pinPostgres, pinSelf, postgresPids, startNode, stop, unpinPostgres, waitForHttp, type Child } from './procs.ts';
import { benchSeed, dropPostgres, openBenchStore, seedPostgres, seedSqlite } from './seed.ts';
import { bareSmppPerSecond, outboxThroughput, type OutboxFigures } from './outbox.ts';
import { benchDevice, createApprovals, onetouchRoundTrip, type RoundTripFigures } from './onetouch.ts';
import { baselineSeconds, importThroughput, writeImportFile, type ImportFigures } from './import.ts';
import { totp } from '../src/core/otp.ts';
import { masterKeyFrom } from '../src/core/crypto.ts';
import type { openStore } from '../src/store/db.ts';
import { hasWrk, measure, measureAmongTurns, measureInTurns, pathOf, type Measured, type Run } from './load.ts';
import { VerifyCredentials } from '../src/features/verify/credentials.ts';
import { Applications } from '../src/features/applications/service.ts';
import { benchCode, benchPhone, benchQrSecret, seedPhoneVerifications, seedQrAuthenticators, seedRecoveryCodes, seedSentCodes, endVerifyVerifications, seedVerifyVerifications } from './factors.ts';
import pg from 'pg';
import { sql } from 'kysely';
import { Agent, request } from 'undici';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const USERS = Number(process.env.BENCH_USERS ?? 1_000_000);
const CONNECTIONS = 50;
/** The scenario and its hello-world take turns in this many slices each (of DURATION / SLICES seconds). */
const SLICES = Number(process.env.BENCH_SLICES ?? 5);
const CPU_PROF = process.env.BENCH_CPU_PROF === '1';
const RESULTS = join(ROOT, 'bench/results');
// The V8 flags `npm start` uses (package.json), given to both servers. A young generation of 16
// MiB semi-spaces: at 32 each scavenge paused longer (it frees the crypto objects and buffers of
// more requests at once) and verify's p99 was higher in 10 of 12 paired rounds.
// BENCH_SERVER_FLAGS: more Node flags for both servers, to study a run (`--trace-gc-nvp`).
const SERVER_FLAGS = ['--max-semi-space-size=16', ...(process.env.BENCH_SERVER_FLAGS?.split(' ').filter(Boolean) ?? [])];

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
  await waitForHttp(`${url}/`, child, 300_000); // a prewarmed SQLite of 10M users reads gigabytes first
  return { url, pid: child.proc.pid! };
}

const once = <T>(start: () => Promise<T>) => {
  let started: Promise<T> | undefined;
  return () => (started ??= start());
};

// SQLite gets what the bench's PostgreSQL gets (bench/postgres-cluster.ts): a quarter of the
// memory for its pages, filled before the server listens (store/sqlite-cache.ts). The cache grows
// only with what is read: pages past the 1 GiB mapping, such as the codes a scenario seeds.
const SQLITE_CACHE_MB = process.env.BENCH_SQLITE_CACHE_MB ?? String(quarterOfMemoryMiB());
const SQLITE_PREWARM = process.env.BENCH_SQLITE_PREWARM ?? '1';

const helloWorld = once(() => startServer('hello-world', ['bench/hello.ts']));

/** OpenFactor on a database seeded with `users` users: SQLite in its own data directory, or a PostgreSQL database of its own. */
async function startOpenFactor(dialect: 'sqlite' | 'postgres', users: number, suffix = '') {
  const t0 = performance.now();
  const common = {
    OPENFACTOR_MASTER_KEY: masterKey.toString('hex'),
    // The OneTouch round trip's callback receiver listens on loopback.
    OPENFACTOR_ALLOW_PRIVATE_NETWORKS: '127.0.0.1',
    LOG_LEVEL: 'warn',
  };
  const seeded = async () => {
    if (dialect === 'sqlite') {
      const dataDir = join(tmp, `sqlite${suffix}`);
      const of = await seedSqlite(dataDir, masterKey, users);
      const env = { OPENFACTOR_DATA_DIR: dataDir, OPENFACTOR_SQLITE_CACHE_MB: SQLITE_CACHE_MB, OPENFACTOR_SQLITE_PREWARM: SQLITE_PREWARM };
      return { ...of, env: env as Record<string, string>, databaseUrl: `sqlite:${join(dataDir, 'openfactor.db')}`, dialect };
    }
    const name = PG_DB + suffix;
    pgDatabases.add(name);
    const of = await seedPostgres(PG_ADMIN, name, masterKey, users);
    return { ...of, env: { OPENFACTOR_DATA_DIR: join(tmp, `pg${suffix}`), DATABASE_URL: of.databaseUrl } as Record<string, string>, dialect };
  };
  const of = await seeded();
  console.log(`seeded ${users.toLocaleString('en')} users into ${dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const target = await startServer(`openfactor-${dialect}${suffix}`, ['build/cli.js', 'serve'], { ...of.env, ...common });
  return { ...target, ...of };
}

// Without BENCH_PG_URL the PostgreSQL scenarios run on a cluster of the bench's own, with shared
// buffers sized as for production (bench/postgres-cluster.ts); the machine's, if that cannot start.
const wantsPostgres = !process.env.BENCH_ONLY || process.env.BENCH_ONLY.includes('postgres');
const ownCluster = process.env.BENCH_PG_URL || !wantsPostgres ? undefined : startBenchCluster(await freePort());
const PG_ADMIN = process.env.BENCH_PG_URL ?? ownCluster?.adminUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PG_DB = `openfactor_bench_${process.pid}`;
/** Every bench database made, dropped at the end whatever happens. */
const pgDatabases = new Set<string>();

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

const openFactorSqlite = once(() => startOpenFactor('sqlite', USERS));
const openFactorPostgres = once(() => startOpenFactor('postgres', USERS));

type OpenFactorTarget = Awaited<ReturnType<typeof openFactorSqlite>> | Awaited<ReturnType<typeof openFactorPostgres>>;

/** 1,000 approval requests for the top user (who gets a device), created through the API. */
const approvalUuids = async (of: Target & { apiKey: string; ids: { hi: number } }) => {
  await benchDevice(of.url, of.apiKey, of.ids.hi);
  return createApprovals(of.url, of.apiKey, of.ids.hi, 1000);
};

// ---------------------------------------------------------------------------------------------
// Random users.

/**
 * `k` distinct users at random. Within a scenario each is sent one token or code (each is accepted
 * once); across scenarios users meet again, each time with another factor or a new code, and at
 * most a few wrong tokens each, well under the attempt cap.
 */
function distinctUsers(of: OpenFactorTarget, k: number): number[] {
  const range = of.ids.hi - of.ids.lo + 1;
  if (k > range) throw new Error(`${k} distinct users wanted, of ${range}: run with more BENCH_USERS`);
  if (2 * k > range) {
    // Most of them: the first k of a shuffle (drawing at random would redraw the same ids for long).
    const ids = Array.from({ length: range }, (_, i) => of.ids.lo + i);
    for (let i = 0; i < k; i++) {
      const j = randomInt(i, range);
      [ids[i], ids[j]] = [ids[j], ids[i]];
    }
    return ids.slice(0, k);
  }
  const picked = new Set<number>();
  while (picked.size < k) picked.add(randomInt(of.ids.lo, of.ids.hi + 1));
  return [...picked];
}

/**
 * The token with its last digit changed: wrong, and of the right length for its factor. Never
 * another token user `id` may hold (a code of another channel, the app TOTP of the minute): those
 * would be answered 200, rightly.
 */
function wrongFor(id: number, token: string): string {
  const now = Date.now();
  const digits = token.length;
  const secret = digits === APP_TOKEN_DIGITS ? benchSeed(id) : digits === QR_DIGITS ? benchQrSecret(id) : undefined;
  const valid = new Set([
    ...(['sms', 'voice', 'email'] as const).map((channel) => benchCode(channel, id, 0, digits)),
    // The server's window (±1 step around its clock plus the drift it learned, up to ±1 here) at
    // any moment of the scenario, which ends up to 16 s after the paths were made.
    ...(secret ? [-2, -1, 0, 1, 2, 3].map((step) => totp(secret, now + step * 30_000, { digits })) : []),
  ]);
  for (let k = 1; k < 10; k++) {
    const w = token.slice(0, -1) + String((Number(token.at(-1)) + k) % 10);
    if (!valid.has(w)) return w;
  }
  throw new Error(`no wrong token next to ${token} for user ${id}`);
}

// ---------------------------------------------------------------------------------------------
// Scenarios: one per path and dialect. `paths(of, n)` seeds what the path needs for n requests
// (random users) and returns them; the first is the probe, sent once before the load.

const APP_TOKEN_DIGITS = 7; // the bench application's token length (Authy's default)
const QR_DIGITS = 6;

interface Scenario {
  name: string;
  dialect: 'sqlite' | 'postgres';
  /** The status every answer must have. */
  expect: number;
  /** Minimum ratio to the hello-world measured right before; the p99 goal is for every path. */
  minRatio?: number;
  maxP99Ms?: number;
  /** One path may be sent many times (a read). */
  repeatable?: boolean;
  paths(of: OpenFactorTarget, n: number): Promise<string[]>;
  /** How requests authenticate (after `paths`): the Authy API key when absent. */
  headers?(of: OpenFactorTarget): Record<string, string>;
}

const verifyPath = (token: string, id: number) => `/protected/json/verify/${token}/${id}`;

async function withStore<T>(of: OpenFactorTarget, f: (db: ReturnType<typeof openStore>['db']) => Promise<T>): Promise<T> {
  const store = openBenchStore(of.databaseUrl);
  try {
    const result = await f(store.db);
    // What was just seeded, settled as a server at rest would have it, so no catching up starts
    // in the middle of the measurement: on PostgreSQL statistics and visibility (autovacuum) and
    // the pages this dirtied written out (a checkpoint), on SQLite the write-ahead log copied into
    // the database (a checkpoint).
    if (of.dialect === 'postgres') {
      await sql`VACUUM (ANALYZE)`.execute(store.db);
      await sql`CHECKPOINT`.execute(store.db);
    } else await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(store.db);
    return result;
  } finally {
    await store.close();
  }
}

type Path = (of: OpenFactorTarget, n: number) => Promise<string[]>;

/**
 * A moment of a 30-second TOTP step with room left for making the paths and the whole run
 * (waiting for the next step when there is not): every right token is then the code of the step
 * the server is in, as an app shows it to its user. A run that crossed into the next step sent
 * the rest of its tokens a step late, and the server learned a clock offset from each (a write
 * to the user's row that a user with a steady clock does not cause).
 */
async function stepWithRoomForTheRun(): Promise<number> {
  const step = 30_000;
  const needed = (WARMUP + DURATION + 8) * 1000; // + making up to a million tokens, and the probe
  if (needed > step) return Date.now(); // a run this long crosses a step whatever we do
  const left = step - (Date.now() % step);
  if (left < needed) await new Promise((r) => setTimeout(r, left + 50));
  return Date.now();
}

const paths: Record<string, { correct: Path; wrong?: Path; repeatable?: boolean }> = {
  'user-status': {
    repeatable: true,
    correct: async (of, n) => Array.from({ length: n }, () => `/protected/json/users/${randomInt(of.ids.lo, of.ids.hi + 1)}/status`),
  },
  // The authenticator app's token (the user's app TOTP seed), as Authy's own app shows it.
  'verify-app': (() => {
    const make = (right: boolean): Path => async (of, n) => {
      const now = right ? await stepWithRoomForTheRun() : Date.now();
      return distinctUsers(of, n).map((id) => {
        const t = totp(benchSeed(id), now, { digits: APP_TOKEN_DIGITS });
        return verifyPath(right ? t : wrongFor(id, t), id);
      });
    };
    return { correct: make(true), wrong: make(false) };
  })(),
  // A Google-Authenticator-style app enrolled by QR code (6 digits).
  'verify-qr': (() => {
    const make = (right: boolean): Path => async (of, n) => {
      const ids = distinctUsers(of, n);
      await withStore(of, (db) => seedQrAuthenticators(db, masterKeyFrom(masterKey), of.appId, ids));
      const now = right ? await stepWithRoomForTheRun() : Date.now();
      return ids.map((id) => {
        const t = totp(benchQrSecret(id), now, { digits: QR_DIGITS });
        return verifyPath(right ? t : wrongFor(id, t), id);
      });
    };
    return { correct: make(true), wrong: make(false) };
  })(),
  ...Object.fromEntries(
    (['sms', 'voice', 'email'] as const).map((channel) => {
      const make = (right: boolean): Path => async (of, n) => {
        const ids = distinctUsers(of, n);
        await withStore(of, (db) => seedSentCodes(db, masterKeyFrom(masterKey), of.dialect, of.appId, ids, channel, 1, APP_TOKEN_DIGITS));
        return ids.map((id) => {
          const c = benchCode(channel, id, 0, APP_TOKEN_DIGITS);
          return verifyPath(right ? c : wrongFor(id, c), id);
        });
      };
      return [`verify-${channel}`, { correct: make(true), wrong: make(false) }];
    }),
  ),
  'verify-recovery': (() => {
    const make = (right: boolean): Path => async (of, n) => {
      const ids = distinctUsers(of, n);
      await withStore(of, (db) => seedRecoveryCodes(db, masterKeyFrom(masterKey), of.dialect, ids, 1));
      return ids.map((id) => {
        const c = benchCode('recovery', id, 0, 8);
        return verifyPath(right ? c : wrongFor(id, c), id);
      });
    };
    return { correct: make(true), wrong: make(false) };
  })(),
  'phone-check': (() => {
    const make = (right: boolean): Path => async (of, n) => {
      const ids = distinctUsers(of, n);
      await withStore(of, (db) => seedPhoneVerifications(db, masterKeyFrom(masterKey), of.dialect, of.appId, ids));
      return ids.map((id) => {
        const c = benchCode('phone', id, 0, 4);
        return `/protected/json/phones/verification/check?phone_number=${benchPhone(id)}&country_code=1&verification_code=${right ? c : wrongFor(id, c)}`;
      });
    };
    return { correct: make(true), wrong: make(false) };
  })(),
};

// The issue's goals: correct ≥ 0.5 (SQLite) / 0.25 (PostgreSQL), wrong ≥ 0.3 / 0.15, p99 ≤ 10 ms.
const GOALS = { sqlite: { correct: 0.5, wrong: 0.3 }, postgres: { correct: 0.25, wrong: 0.15 } };
const WRONG_STATUS: Record<string, number> = { 'phone-check': 401 };

// Twilio Verify v2 (issue 21): VerificationCheck of a verification each, through a service made
// with the account's credentials over /v2; a right code approves (200), a wrong one is counted
// (200, status pending).
const verifyAccounts = new Map<OpenFactorTarget, { basic: string; serviceSid: string }>();
async function verifyService(of: OpenFactorTarget): Promise<{ basic: string; serviceSid: string; appId: number; serviceId: number }> {
  if (!verifyAccounts.has(of)) {
    const account = await withStore(of, (db) => new VerifyCredentials(db, [masterKeyFrom(masterKey)]).createAccount('bench'));
    const basic = `Basic ${Buffer.from(`${account.sid}:${account.authToken}`).toString('base64')}`;
    const res = await request(`${of.url}/v2/Services`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'FriendlyName=Bench' });
    const made = (await res.body.json()) as { sid: string };
    if (res.statusCode !== 201) throw new Error(`verify-v2: service not made (${res.statusCode} ${JSON.stringify(made)})`);
    verifyAccounts.set(of, { basic, serviceSid: made.sid });
  }
  const { basic, serviceSid } = verifyAccounts.get(of)!;
  const row = await withStore(of, (db) => db.selectFrom('verify_services').select(['id', 'app_id']).where('sid', '=', serviceSid).executeTakeFirstOrThrow());
  return { basic, serviceSid, appId: row.app_id, serviceId: row.id };
}
const verifyCheck = (right: boolean): Path => async (of, n) => {
  const { serviceSid, appId, serviceId } = await verifyService(of);
  const ids = distinctUsers(of, n);
  await withStore(of, (db) => seedVerifyVerifications(db, masterKeyFrom(masterKey), of.dialect, appId, serviceId, ids));
  return ids.map((id) => {
    const c = benchCode('verify', id, 0, 6);
    return `POST /v2/Services/${serviceSid}/VerificationCheck\tTo=%2B1${benchPhone(id)}&Code=${right ? c : wrongFor(id, c)}`;
  });
};
// The other half of a Verify round: a start (POST Verifications) per random number, each a new
// verification (the numbers' pending ones end first), its code queued in the outbox through the
// send guard (whose prefix allowance is raised: the bench numbers are sequential in few prefixes).
const verifyStart: Path = async (of, n) => {
  const { serviceSid, appId, serviceId } = await verifyService(of);
  const ids = distinctUsers(of, n);
  await withStore(of, async (db) => {
    await new Applications(db, masterKeyFrom(masterKey)).updateSettings(appId, { prefixSendsPerWindow: 1_000_000, countrySendsPerWindow: 1_000_000, dailySendBudget: 10_000_000 });
    await endVerifyVerifications(db, masterKeyFrom(masterKey), of.dialect, serviceId, ids);
  });
  return ids.map((id) => `POST /v2/Services/${serviceSid}/Verifications\tTo=%2B1${benchPhone(id)}&Channel=sms`);
};
const verifyHeaders = (of: OpenFactorTarget) => ({ authorization: verifyAccounts.get(of)!.basic });

const scenarios: Scenario[] = (['sqlite', 'postgres'] as const).flatMap((dialect) => [
  ...Object.entries(paths).flatMap(([name, p]) => [
    { name: `${name}-${dialect}`, dialect, expect: 200, minRatio: GOALS[dialect].correct, maxP99Ms: 10, repeatable: p.repeatable, paths: p.correct },
    ...(p.wrong ? [{ name: `${name}-wrong-${dialect}`, dialect, expect: WRONG_STATUS[name] ?? 401, minRatio: GOALS[dialect].wrong, maxP99Ms: 10, paths: p.wrong }] : []),
  ]),
  { name: `verify-v2-check-${dialect}`, dialect, expect: 200, minRatio: GOALS[dialect].correct, maxP99Ms: 10, paths: verifyCheck(true), headers: verifyHeaders },
  { name: `verify-v2-check-wrong-${dialect}`, dialect, expect: 200, minRatio: GOALS[dialect].wrong, maxP99Ms: 10, paths: verifyCheck(false), headers: verifyHeaders },
  // Not among issue 19's goals: reported beside the check, without a goal.
  { name: `verify-v2-start-${dialect}`, dialect, expect: 201, paths: verifyStart, headers: verifyHeaders },
]);

// ---------------------------------------------------------------------------------------------
// Measuring.

interface Figures extends Measured {
  name: string;
  reqPerSec: number;
  unexpected: number;
  /**
   * The baseline: the hello-world on the same core with the same generator, in turns with the
   * scenario (all its slices together); its first slice (before) and last (after) as measured.
   */
  hello?: PerSecond;
  helloBefore?: PerSecond;
  helloAfter?: PerSecond;
  ratio?: number;
  goals?: { minRatio?: number; maxP99Ms?: number };
  /** The scenarios measured in the same turns, this one included (one path at several sizes). */
  measuredWith?: string[];
}

type PerSecond = Measured & { reqPerSec: number };
type Baseline = { hello: PerSecond; helloBefore: PerSecond; helloAfter: PerSecond };

// BENCH_CPU_PROF: when each measured part ran on which server, so that prof-top.ts can leave out
// the seeding and warm-ups (a server waiting on SQLite's busy timeout while the bench seeds
// looks like time spent in a query).
const profileWindows: { scenario: string; pid: number; fromUs: number; toUs: number }[] = [];
const measuredIn = (scenario: string, pid: number) =>
  CPU_PROF
    ? (w: { fromUs: number; toUs: number }) => {
        profileWindows.push({ scenario, pid, ...w });
        mkdirSync(join(RESULTS, 'prof'), { recursive: true });
        writeFileSync(join(RESULTS, 'prof', 'windows.json'), JSON.stringify(profileWindows, null, 1));
      }
    : undefined;
const target = (t: Target, scenario: string, pids = () => [t.pid]) => ({ url: t.url, pids, connections: CONNECTIONS, warmupSeconds: WARMUP, seconds: DURATION, tmp, onMeasured: measuredIn(scenario, t.pid) });

/** One request before the load: a wrong key or path fails loudly, not as 500k unexpected answers. */
async function probe(url: string, headers: Record<string, string>, path: string, name: string, expect: number): Promise<void> {
  // On a connection of its own: a kept-alive one may have been closed by the server meanwhile.
  const agent = new Agent();
  try {
    const r = pathOf(path);
    const form = r.body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' };
    const res = await request(url + r.path, { method: r.method, body: r.body, headers: { ...headers, ...form }, dispatcher: agent }).catch((e: Error & { cause?: Error }) => {
      throw new Error(`${name}: probe ${path} failed: ${e.message} (${e.cause?.message ?? 'no cause'})`);
    });
    const body = await res.body.text();
    if (res.statusCode !== expect) throw new Error(`${name}: probe ${path} answered ${res.statusCode}: ${body}`);
  } finally {
    await agent.close();
  }
}

/** The hello-world's requests a second now, from a short run (which also warms it up). */
async function helloRate(): Promise<number> {
  const hello = await helloWorld();
  const m = await measure({ ...target(hello, 'hello-world'), paths: ['/'], warmupSeconds: 0, seconds: 2, onMeasured: undefined });
  return m.requests / m.seconds;
}

const perSecond = (m: Measured): PerSecond => ({ ...m, reqPerSec: m.requests / m.seconds });
/** The hello-world of some turns: all its slices together, and its first and last as measured. */
const baselineOf = (r: { baseline: Measured; baselineSlices: Measured[] }): Baseline => ({
  hello: perSecond(r.baseline),
  helloBefore: perSecond(r.baselineSlices[0]),
  helloAfter: perSecond(r.baselineSlices.at(-1)!),
});

/**
 * A scenario and the hello-world in turns, SLICES of each (load.ts, measureInTurns): the
 * baseline is all its slices together; its first and last are kept as measured.
 */
async function beside(run: Run): Promise<{ m: Measured } & Baseline> {
  const hello = await helloWorld();
  const r = await measureInTurns(run, { ...target(hello, 'hello-world'), paths: ['/'] }, SLICES);
  return { m: r.subject, ...baselineOf(r) };
}

async function runScenario(s: Scenario, on?: OpenFactorTarget): Promise<Figures> {
  const of = on ?? (s.dialect === 'sqlite' ? await openFactorSqlite() : await openFactorPostgres());
  const ready = await prepared(s, of);
  const { m, ...base } = await beside(ready.run);
  return ready.figures(m, base);
}

/**
 * Scenarios measured together, in turns with one hello-world (load.ts, measureAmongTurns): one
 * path at several sizes, whose figures are compared with each other.
 */
async function runTogether(group: { s: Scenario; of: OpenFactorTarget }[]): Promise<Figures[]> {
  const ready = [];
  for (const { s, of } of group) ready.push(await prepared(s, of));
  const hello = await helloWorld();
  const r = await measureAmongTurns(ready.map((p) => p.run), { ...target(hello, 'hello-world'), paths: ['/'] }, SLICES);
  const base = baselineOf(r);
  const measuredWith = group.map(({ s }) => s.name);
  return ready.map((p, i) => ({ ...p.figures(r.subjects[i], base), measuredWith }));
}

/** A scenario's paths made and probed; its figures from what is then measured. */
async function prepared(s: Scenario, of: OpenFactorTarget) {
  // Enough paths for the run at the hello-world's rate, which OpenFactor does not exceed; a token
  // path has at most one per user (a fast machine's hello-world outruns a million users in 13 s:
  // a run that uses them all up is reported as unexpected answers, never measured on replays).
  const n = Math.ceil((await helloRate()) * 1.3 * (WARMUP + DURATION)) + 1;
  const all = await s.paths(of, s.repeatable ? Math.min(n, 200_000) : Math.min(n, of.ids.hi - of.ids.lo + 1));
  const headers = s.headers?.(of) ?? { 'X-Authy-API-Key': of.apiKey };
  await probe(of.url, headers, all[0], s.name, s.expect);
  const server = children.find((c) => c.proc.pid === of.pid);
  // On PostgreSQL the server side is OpenFactor and PostgreSQL's processes (pinned with it).
  const run: Run = { ...target(of, s.name, s.dialect === 'postgres' ? () => [of.pid, ...postgresPids()] : () => [of.pid]), headers, paths: all.slice(1) };
  const figures = (m: Measured, base: Baseline): Figures => {
    const reqPerSec = m.requests / m.seconds;
    const unexpected = m.requests - (m.statusCodes[String(s.expect)] ?? 0) + (s.repeatable ? 0 : Number(m.ranOut) * m.requests);
    // What the server said about answers it should not have given (a 500 is a bug, not a figure).
    if (unexpected > 0 && server) console.error(`\n${s.name}: ${unexpected} unexpected answers; the server's last output:\n${server.output().slice(-4000)}`);
    return { ...m, name: s.name, reqPerSec, unexpected, ...base, ratio: reqPerSec / base.hello.reqPerSec, goals: { minRatio: s.minRatio, maxP99Ms: s.maxP99Ms } };
  };
  return { run, figures };
}

// ---------------------------------------------------------------------------------------------
// Other sizes (BENCH_SIZES=10000,10000000): each on databases of its own, seeded and started
// together. User status at every size, the main size's included (on a fresh database), all in the
// same turns with one hello-world: goal 2 compares them with each other. Every token path where there
// are enough users for each request to have its own (1M and more), one size after the other: a
// right token is accepted once (an app TOTP once per 30 s step), and wrong ones count towards the
// attempt cap, so at 10k users a 10-second scenario would measure replays and lockouts instead.

const SIZES = (process.env.BENCH_SIZES ?? '').split(',').filter(Boolean).map(Number).filter((n) => n !== USERS);
const sizeLabel = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n));

async function sizeScenarios(only?: string[]): Promise<Figures[]> {
  const out: Figures[] = [];
  const kept = (f: Figures) => {
    console.log(`${f.name}: ${Math.round(f.reqPerSec).toLocaleString('en')} req/s, ratio ${f.ratio!.toFixed(2)}, p99 ${f.p99Ms.toFixed(1)} ms`);
    out.push(f);
  };
  for (const dialect of ['sqlite', 'postgres'] as const) {
    const sized = (s: Scenario, size: number): Scenario => ({ ...s, name: `${s.name}-${sizeLabel(size)}` });
    const wanted = (s: Scenario) => !only || only.includes(s.name);
    const at = (size: number) => scenarios.filter((s) => s.dialect === dialect).map((s) => sized(s, size));
    const others = SIZES.filter((size) => at(size).some((s) => wanted(s) && (s.repeatable || size >= 1_000_000)));
    if (others.length === 0) continue;
    // The main size once more, on a database of its own seeded last: the main one has had every
    // token scenario's codes written to it (SQLite empties its cache at each), and on PostgreSQL
    // the 10M database seeded into the same cluster pushes its pages out of the shared buffers.
    const mainToo = at(USERS).some((s) => s.repeatable && wanted(s));
    const sizes = mainToo ? [...others, USERS] : others;
    if (dialect === 'postgres') {
      if (!(await pgReachable())) continue;
      if (PINNED) pinPostgres(SERVER_CORE!);
    }
    const suffix = (size: number) => `_${sizeLabel(size).toLowerCase()}`;
    const servers = new Map<number, OpenFactorTarget>();
    try {
      for (const size of sizes) {
        process.stdout.write(`${sizeLabel(size)} users, ${dialect}: `);
        servers.set(size, await startOpenFactor(dialect, size, suffix(size)));
      }
      for (const s of scenarios.filter((s) => s.dialect === dialect && s.repeatable)) {
        const group = [...servers].sort(([x], [y]) => x - y).map(([size, of]) => ({ s: sized(s, size), of })).filter((g) => wanted(g.s));
        if (group.length === 0) continue;
        process.stdout.write(`${group.map((g) => g.s.name).join(', ')}, in turns:\n`);
        for (const f of await runTogether(group)) kept(f);
      }
      for (const size of others.filter((n) => n >= 1_000_000)) {
        for (const s of at(size).filter((s) => !s.repeatable && wanted(s))) {
          kept(await runScenario(s, servers.get(size)));
        }
      }
    } finally {
      for (const [size, of] of servers) {
        const child = children.find((c) => c.proc.pid === of.pid);
        if (child) {
          await stop(child);
          children.splice(children.indexOf(child), 1);
        }
        if (dialect === 'postgres') await dropPostgres(PG_ADMIN, PG_DB + suffix(size)).catch(() => {});
        else rmSync(join(tmp, `sqlite${suffix(size)}`), { recursive: true, force: true });
      }
    }
  }
  return out;
}

async function main(): Promise<number> {
  console.log(
    `OpenFactor bench: ${USERS.toLocaleString('en')} users, ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s measured per scenario in ${SLICES} turns with the hello-world, ` +
      `load by ${hasWrk ? 'wrk' : 'autocannon (install wrk for a generator that is never the limit)'}; ` +
      (PINNED ? 'servers (and PostgreSQL) on core 0, load generator on core 1' : 'NOT pinned (no taskset or fewer than 2 cores)') +
      `; SQLite: a ${SQLITE_CACHE_MB} MiB page cache${SQLITE_PREWARM === '1' ? ', prewarmed' : ''}` +
      (ownCluster ? `; PostgreSQL: the bench's own cluster, shared_buffers ${ownCluster.sharedBuffers}${ownCluster.hugePages ? ' in huge pages' : ' in 4 kB pages'}` : wantsPostgres ? `; PostgreSQL: ${PG_ADMIN} as configured` : ''),
  );
  const results: Figures[] = [];
  const only = process.env.BENCH_ONLY?.split(',');
  for (const s of scenarios) {
    if (only && !only.includes(s.name)) continue;
    if (s.dialect === 'postgres') {
      if (!(await pgReachable())) {
        console.log(`${s.name}: skipped (PostgreSQL at ${PG_ADMIN} does not answer)`);
        continue;
      }
      if (PINNED) pinPostgres(SERVER_CORE!);
    }
    process.stdout.write(`${s.name}: `);
    const f = await runScenario(s);
    console.log(`${Math.round(f.reqPerSec).toLocaleString('en')} req/s, ratio ${f.ratio!.toFixed(2)}, p99 ${f.p99Ms.toFixed(1)} ms`);
    results.push(f);
  }
  results.push(...(await sizeScenarios(only)));
  if (!only || only.includes('approval-status')) {
    const of = await openFactorSqlite();
    const uuids = await approvalUuids(of);
    const headers = { 'X-Authy-API-Key': of.apiKey };
    const all = Array.from({ length: 200_000 }, () => `/onetouch/json/approval_requests/${uuids[randomInt(uuids.length)]}`);
    await probe(of.url, headers, all[0], 'approval-status', 200);
    const { m, ...base } = await beside({ ...target(of, 'approval-status-sqlite'), headers, paths: all });
    const reqPerSec = m.requests / m.seconds;
    results.push({ ...m, name: 'approval-status-sqlite', reqPerSec, unexpected: m.requests - (m.statusCodes['200'] ?? 0), ...base, ratio: reqPerSec / base.hello.reqPerSec });
    console.log(`approval-status-sqlite: ${Math.round(reqPerSec).toLocaleString('en')} req/s`);
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
        databaseUrl: of.databaseUrl,
        masterKey,
        requests: ROUND_TRIPS,
      }),
    );
    console.log(`p50 ${roundTrips[0].callbackP50Ms.toFixed(1)} ms`);
  }
  for (const c of children) if (!isRunning(c)) throw new Error(`${c.name} died during the run:\n${c.output()}`);
  await Promise.all(children.splice(0).map(stop)); // the outbox scenarios get the server core to themselves
  const outbox = await outboxScenarios(only);
  const imports = await importScenarios(only);
  return report(results, outbox, roundTrips, imports);
}

const IMPORT_USERS = Number(process.env.BENCH_IMPORT_USERS ?? USERS);

/** `users import` of IMPORT_USERS users with authenticator secrets, on both cores (it uses two threads). */
async function importScenarios(only?: string[]): Promise<ImportFigures[]> {
  const wanted = (n: string) => !only || only.includes(n);
  if (!wanted('import-sqlite') && !wanted('import-postgres')) return [];
  if (PINNED) unpinPostgres();
  const file = join(tmp, 'import.jsonl');
  await writeImportFile(file, IMPORT_USERS);
  process.stdout.write(`import baseline (reading and parsing the file of ${IMPORT_USERS.toLocaleString('en')} users): `);
  const baseline = await baselineSeconds(file);
  console.log(`${baseline.toFixed(1)} s`);
  const common = { tmp, file, users: IMPORT_USERS, masterKey, pgAdmin: PG_ADMIN, pgName: `${PG_DB}_import`, baselineSeconds: baseline };
  const out: ImportFigures[] = [];
  for (const dialect of ['sqlite', 'postgres'] as const) {
    const name = `import-${dialect}`;
    if (!wanted(name)) continue;
    if (dialect === 'postgres' && !(await pgReachable())) {
      console.log(`${name}: skipped (PostgreSQL does not answer)`);
      continue;
    }
    process.stdout.write(`${name}: `);
    out.push(await importThroughput(name, dialect, common));
    console.log(`${out.at(-1)!.seconds.toFixed(1)} s, ${Math.round(out.at(-1)!.perSecond).toLocaleString('en')} users/s`);
  }
  return out;
}

const OUTBOX_MESSAGES = Number(process.env.BENCH_OUTBOX_MESSAGES ?? 10000);
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

function report(results: Figures[], outbox: OutboxFigures[], roundTrips: RoundTripFigures[], imports: ImportFigures[]): number {
  const pctOf = (x?: number) => (x === undefined ? '-' : `${Math.round(x * 100)}%`);
  const us = (x?: number) => (x === undefined ? '-' : x.toFixed(0));
  const rows = [
    ['scenario', 'req/s', 'ratio', 'CPU µs/req', 'of it OpenFactor', 'p50 ms', 'p99 ms', 'hello req/s', 'hello µs/req', 'unexpected', 'errors', 'server CPU', 'loader CPU', 'other CPU', 'softirq'],
    ...results.map((f) => [
      f.name,
      Math.round(f.reqPerSec).toLocaleString('en'),
      f.ratio === undefined ? '-' : f.ratio.toFixed(2),
      us(f.serverCpuUsPerRequest),
      us(f.openfactorCpuUsPerRequest),
      f.p50Ms.toFixed(2),
      f.p99Ms.toFixed(2),
      f.hello ? Math.round(f.hello.reqPerSec).toLocaleString('en') : '-',
      us(f.hello?.serverCpuUsPerRequest),
      String(f.unexpected),
      String(f.errors),
      pctOf(f.serverCpu),
      pctOf(f.loaderCpu),
      pctOf(f.otherCpu),
      pctOf(f.softirqCpu),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  if (results.length) console.log('\n' + rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n') + '\n');

  const checks: { what: string; value: number; goal: string; ok: boolean }[] = [];
  for (const f of results) {
    const { minRatio, maxP99Ms } = f.goals ?? {};
    if (minRatio !== undefined && f.ratio !== undefined) checks.push({ what: `${f.name} ratio to hello-world`, value: f.ratio, goal: `≥ ${minRatio}`, ok: f.ratio >= minRatio });
    if (maxP99Ms !== undefined) checks.push({ what: `${f.name} p99 (ms)`, value: f.p99Ms, goal: `≤ ${maxP99Ms}`, ok: f.p99Ms <= maxP99Ms });
  }
  // 10M users keep ≥ 0.8 of the throughput at 10k (each as its ratio to its own hello-world);
  // paths measured only from 1M up (one-use tokens), against the 1M of the same run.
  const bySize = (name: string) => results.find((f) => f.name === name)?.ratio;
  for (const f of results) {
    const m = /^(.*)-10M$/.exec(f.name);
    if (!m || f.ratio === undefined) continue;
    const [base, small] = bySize(`${m[1]}-10k`) !== undefined ? ['10k', bySize(`${m[1]}-10k`)!] : ['1M', bySize(m[1])];
    if (small) checks.push({ what: `${m[1]} at 10M users against ${base}`, value: f.ratio / small, goal: '≥ 0.8', ok: f.ratio / small >= 0.8 });
  }
  for (const i of imports) {
    if (i.name === 'import-sqlite' && i.users === 1_000_000) checks.push({ what: 'import-sqlite of 1M users with secrets (s)', value: i.seconds, goal: '< 120', ok: i.seconds < 120 });
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
  if (imports.length) {
    console.log('\nusers import: users with kept ids and authenticator secrets, by the CLI on both cores, ratio to reading and parsing the same file');
    for (const i of imports) {
      console.log(`${i.name.padEnd(16)} ${i.users.toLocaleString('en')} users in ${i.seconds.toFixed(1)} s, ${Math.round(i.perSecond).toLocaleString('en')} users/s  ratio ${i.ratio.toFixed(3)} (baseline ${i.baselineSeconds.toFixed(1)} s)`);
    }
  }
  const failed = results.filter((f) => f.unexpected + f.errors > 0);
  for (const f of failed) {
    console.log(`\n!!! ${f.name}: ${f.unexpected} unexpected answers${f.ranOut ? ' (it ran out of prepared paths)' : ''}, ${f.errors} errors; status codes ${JSON.stringify(f.statusCodes)}. THE FIGURES ABOVE ARE NOT VALID.`);
  }
  for (const f of results) {
    for (const [what, m] of [[f.name, f], [`${f.name}'s hello-world before`, f.helloBefore], [`${f.name}'s hello-world after`, f.helloAfter]] as const) {
      if (!m) continue;
      if (m.loaderCpu > 0.9) console.log(`WARNING: ${what}: the load generator used ${pctOf(m.loaderCpu)} of its core: it may be the limit.`);
      if ((m.otherCpu ?? 0) > 0.15) console.log(`WARNING: ${what}: other processes used ${pctOf(m.otherCpu)} of a core meanwhile: the machine was not quiet.`);
    }
  }

  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, 'latest.json');
  const json = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    pinned: PINNED,
    loadGenerator: hasWrk ? 'wrk' : 'autocannon',
    connections: CONNECTIONS,
    warmupSeconds: WARMUP,
    durationSeconds: DURATION,
    users: USERS,
    postgres: ownCluster ? { cluster: 'own', sharedBuffers: ownCluster.sharedBuffers, hugePages: ownCluster.hugePages } : { cluster: 'given', url: PG_ADMIN.replace(/\/\/[^@]*@/, '//') },
    results,
    outbox,
    roundTrips,
    imports,
    checks,
    valid: failed.length === 0,
  };
  // Without each measurement's 1,000 latency quantiles (only for merging slices): p50 and p99 stay.
  writeFileSync(file, JSON.stringify(json, (k, v) => (k === 'quantilesMs' ? undefined : v), 2) + '\n');
  console.log(`\nwrote ${file}`);
  return failed.length > 0 ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Clean-up, on success, failure and Ctrl-C alike.

async function cleanup(): Promise<void> {
  await Promise.all(children.map(stop));
  if (PINNED) unpinPostgres();
  for (const name of pgDatabases) await dropPostgres(PG_ADMIN, name).catch(() => {});
  ownCluster?.stop();
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
  for (const c of children) if (!isRunning(c)) console.error(`${c.name} exited (${c.proc.exitCode ?? c.proc.signalCode}):\n${c.output()}`);
} finally {
  await cleanup();
}
process.exit(code);
