// Does an account recovery's time tell whether a number has an account? A spawned server (SQLite,
// or PostgreSQL with OPENFACTOR_TEST_DB=postgres); `POST /device/v1/account_recoveries` for a known
// and an unknown number, then a wrong-code confirm of each id, in alternating pairs: medians, and
// in how many pairs the known one was slower (about half when time tells nothing). Not a test:
// times on a shared machine are not assertions.
//   node --import tsx bench/account-recovery-timing.ts [pairs=300]
import { createTestDatabase, testEnv } from '../test/support/harness.ts';
import { createUserOver, runCli, spawnServer } from '../test/support/process.ts';
import { generateKeyPair } from '../sdk/device/src/index.ts';

const PAIRS = Number(process.argv[2] ?? 300);
/** Wrong tries per recovery before it ends. */
const TRIES = 5;
const db = await createTestDatabase();
const env = { ...testEnv(db), LOG_LEVEL: 'error' };
const { api_key: key, id: appId } = JSON.parse(runCli(['apps', 'create', '--name', 'Timing', '--json'], env).stdout);
// Each known number starts one recovery; the SMS-pumping floors must not stop them.
runCli(['apps', 'settings', '--app', String(appId), '--prefix-sends-per-window', '1000000', '--country-sends-per-window', '10000000', '--daily-send-budget', '10000000'], env);
const server = await spawnServer(env);
/** Recoveries whose ids the confirm pairs use (five wrong tries each). */
const recoveries = Math.ceil(PAIRS / TRIES);
const number = (i: number, known: boolean) => `415${known ? '555' : '556'}${String(1000 + i).padStart(4, '0')}`;

const timed = async (path: string, body: object, want: number) => {
  const t0 = process.hrtime.bigint();
  const r = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await r.json()) as { account_recovery?: { id: string } };
  if (r.status !== want) throw new Error(`${path}: status ${r.status}`);
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, id: json.account_recovery?.id };
};
const start = (n: string) => timed('/device/v1/account_recoveries', { country_code: '1', phone_number: n, via: 'sms' }, 200);
const key0 = { public_key: (await generateKeyPair('ES256', false)).publicKey, algorithm: 'ES256', os_type: 'web', name: 'timing' };
const confirm = (id: string, i: number) => timed(`/device/v1/account_recoveries/${id}/confirm`, { phone_code: String(100000 + i), email_code: String(200000 + i), ...key0 }, 401);

/**
 * Runs pairs alternately ordered. A pause lets the work behind each answer run (for a known
 * number: storing the recovery and sending two messages), so that it does not slow whichever
 * request comes next: that would measure the order, not the answer.
 */
async function pairs(n: number, pair: (i: number) => [() => Promise<number>, () => Promise<number>], pauseMs = 5) {
  const known: number[] = [];
  const unknown: number[] = [];
  let slower = 0;
  for (let i = 0; i < n; i++) {
    const [k, u] = pair(i);
    let a: number, b: number;
    if (i % 2) {
      a = await k();
      await new Promise((r) => setTimeout(r, pauseMs));
      b = await u();
    } else {
      b = await u();
      await new Promise((r) => setTimeout(r, pauseMs));
      a = await k();
    }
    known.push(a);
    unknown.push(b);
    if (a > b) slower++;
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)].toFixed(2);
  return `known: median ${median(known)} ms; unknown: median ${median(unknown)} ms; known slower in ${slower} of ${n} pairs`;
}

try {
  for (let i = 0; i <= PAIRS; i++) await createUserOver(server.url, key, number(i, true));
  for (let i = 0; i < 20; i++) await Promise.all([start(number(0, true)), start(number(0, false))]); // warm up (number 0's limit is used up here)
  const ids: { known: string; unknown: string }[] = [];
  const startLine = await pairs(PAIRS, (i) => [
    async () => { const r = await start(number(i + 1, true)); (ids[i] ??= { known: '', unknown: '' }).known = r.id!; return r.ms; },
    async () => { const r = await start(number(i + 1, false)); (ids[i] ??= { known: '', unknown: '' }).unknown = r.id!; return r.ms; },
  ], Number(process.env.PAUSE_MS ?? 100));
  await new Promise((r) => setTimeout(r, 2000)); // the codes are sent (rows stored) behind the answers
  const confirmLine = await pairs(recoveries * TRIES, (i) => [
    async () => (await confirm(ids[Math.floor(i / TRIES)].known, i)).ms,
    async () => (await confirm(ids[Math.floor(i / TRIES)].unknown, i)).ms,
  ]);
  console.log(`start:   ${startLine}`);
  console.log(`confirm: ${confirmLine} (wrong codes)`);
} finally {
  await server.stop();
  await db.drop();
}
