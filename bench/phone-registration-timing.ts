// Does the time of `POST /device/v1/phone_registrations` tell whether a number is registered?
// A spawned server (SQLite, or PostgreSQL with OPENFACTOR_TEST_DB=postgres), one registered and
// one unknown number asked in alternation: medians, and in how many pairs the registered one was slower
// (about half when time tells nothing). Not a test: times on a shared machine are not assertions.
//   node --import tsx bench/phone-registration-timing.ts [pairs=300]
import { createTestDatabase, testEnv } from '../test/support/harness.ts';
import { createUserOver, runCli, spawnServer } from '../test/support/process.ts';

const PAIRS = Number(process.argv[2] ?? 300);
const db = await createTestDatabase();
const env = { ...testEnv(db), OPENFACTOR_DEVICE_REGISTRATIONS_PER_ADDRESS: '1000000', OPENFACTOR_DEVICE_REGISTRATIONS_PER_HOUR: '1000000', LOG_LEVEL: 'error' };
const { api_key: key } = JSON.parse(runCli(['apps', 'create', '--name', 'Timing', '--json'], env).stdout);
const server = await spawnServer(env);
try {
  await createUserOver(server.url, key, '4155550142');
  const time = async (phone: string) => {
    const t0 = process.hrtime.bigint();
    const r = await fetch(`${server.url}/device/v1/phone_registrations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ country_code: '1', phone_number: phone, via: 'sms' }),
    });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`status ${r.status}`);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  for (let i = 0; i < 20; i++) await Promise.all([time('415-555-0142'), time('415-555-0143')]); // warm up
  const known: number[] = [];
  const unknown: number[] = [];
  let slower = 0;
  for (let i = 0; i < PAIRS; i++) {
    // Alternate which goes first; a pause lets the work behind the previous answers run.
    const [k, u] = i % 2 ? [await time('415-555-0142'), await time('415-555-0143')] : [await time('415-555-0143'), await time('415-555-0142')].reverse();
    known.push(k);
    unknown.push(u);
    if (k > u) slower++;
    await new Promise((r) => setTimeout(r, 5));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)].toFixed(2);
  console.log(`registered: median ${median(known)} ms; unknown: median ${median(unknown)} ms; registered slower in ${slower} of ${PAIRS} pairs`);
} finally {
  await server.stop();
  await db.drop();
}
