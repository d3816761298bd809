// The pumping defence counts a conversion (a sent code used, an Authy phone check or a Verify
// v2 check approved) for the number's prefix and its country: the same few rows for every verify.
// Many verifies at once, on two servers sharing the database, must each answer 200 (no lock cycle
// between their writes: PostgreSQL breaks one after a second by failing it, a 500) and count
// exactly once each.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { freshWindowClock, startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { codeIn, createUser, verifyUrl } from '../support/tokens.ts';
import { buildServer, type OpenFactor } from '../../src/app.ts';
import { openStore, type Store } from '../../src/store/db.ts';

const PREFIXES = 12;
const PER_PREFIX = 10;

let t: TestApp;
let store2: Store;
let second: OpenFactor;
before(async () => {
  t = await startApp();
  await t.of.services.applications.updateSettings(t.appId, {
    sendsPerHour: 1000,
    sendsPerNumberHour: 1000,
    sendsPerNumberDay: 1000,
    prefixSendsPerWindow: 10_000,
    countrySendsPerWindow: 100_000,
    dailySendBudget: 100_000,
  });
  store2 = openStore(t.config.databaseUrl, { pg: t.config.pg });
  second = await buildServer(t.config, store2, { sendGuardClock: freshWindowClock() });
});
after(async () => {
  await second?.close();
  await store2?.close();
  await t.close();
});

/** The texts sent to numbers starting with `prefix`, by number, once `count` of them are out (or what is out after 10 s). */
async function sentTexts(prefix: string, count: number): Promise<Map<string, string>> {
  let sent = new Map<string, string>();
  for (let i = 0; i < 400 && sent.size < count; i++) {
    const messages = await t.of.services.outbox.recent({ limit: 500 });
    sent = new Map(messages.filter((m) => m.status === 'sent' && m.text !== undefined && m.destination.startsWith(prefix)).map((m) => [m.destination, m.text!]));
    if (sent.size < count) await new Promise((r) => setTimeout(r, 25));
  }
  return sent;
}

test('120 SMS codes to 12 prefixes verified at once on two servers: every one 200, each conversion counted once', async () => {
  const phones = Array.from({ length: PREFIXES * PER_PREFIX }, (_, i) => `415-${201 + (i % PREFIXES)}-${String(1000 + i).padStart(4, '0')}`);
  const ids: number[] = [];
  for (const [i, phone] of phones.entries()) ids.push(await createUser(t, `burst${i}@example.com`, phone));
  for (const id of ids) {
    const r = await call(t.of.server, 'GET', `/protected/json/sms/${id}?force=true`, { key: t.apiKey });
    assert.equal(r.status, 200, r.text);
  }
  const e164 = phones.map((p) => `+1${p.replace(/-/g, '')}`);
  const sent = await sentTexts('+1415', e164.length);
  assert.equal(sent.size, e164.length, 'every code delivered');

  // Both servers at once, each meeting the prefixes in the opposite order of the other's.
  const half = ids.length / 2;
  const order = [...ids.keys()].slice(0, half).flatMap((i) => [i, ids.length - 1 - i]);
  const answers = await Promise.all(
    order.map((i) => call(i < half ? t.of.server : second.server, 'GET', verifyUrl(codeIn(sent.get(e164[i])!, 7), ids[i]), { key: t.apiKey })),
  );
  assert.deepEqual(answers.map((r) => r.status), ids.map(() => 200), answers.find((r) => r.status !== 200)?.text);

  const counted = await t.store.db
    .selectFrom('prefix_traffic')
    .select(sql<number>`SUM(conversions)`.as('n'))
    .where('app_id', '=', t.appId)
    .executeTakeFirstOrThrow();
  assert.equal(Number(counted.n), ids.length * 2, 'one conversion for the prefix and one for the country, per code');
});

test('60 phone verifications to 12 prefixes, each right code checked on both servers at once: one verifies, each number counted once', async () => {
  const app = await t.newApplication('Phone Burst');
  await t.of.services.applications.updateSettings(app.id, { sendsPerHour: 1000, sendsPerNumberHour: 1000, sendsPerNumberDay: 1000, prefixSendsPerWindow: 10_000, countrySendsPerWindow: 100_000, dailySendBudget: 100_000 });
  const numbers = Array.from({ length: 60 }, (_, i) => `646${201 + (i % PREFIXES)}${String(2000 + i).padStart(4, '0')}`);
  for (const n of numbers) {
    const r = await call(t.of.server, 'POST', '/protected/json/phones/verification/start', { key: app.apiKey, form: `via=sms&phone_number=${n}&country_code=1` });
    assert.equal(r.status, 200, r.text);
  }
  const sent = await sentTexts('+1646', numbers.length);
  assert.equal(sent.size, numbers.length, 'every code delivered');

  const check = (server: OpenFactor, n: string) =>
    call(server.server, 'GET', '/protected/json/phones/verification/check', { key: app.apiKey, form: `phone_number=${n}&country_code=1&verification_code=${codeIn(sent.get(`+1${n}`)!, 4)}` });
  // Each number's right code on both servers at once, the two servers meeting the prefixes in opposite orders.
  const checks = numbers.flatMap((n, i) => [[t.of, n] as const, [second, numbers[numbers.length - 1 - i]] as const]);
  const answers = await Promise.all(checks.map(([server, n]) => check(server, n)));
  const byNumber = new Map(numbers.map((n) => [n, [] as number[]]));
  for (const [j, r] of answers.entries()) byNumber.get(checks[j][1])!.push(r.status);
  for (const [n, statuses] of byNumber) assert.deepEqual(statuses.sort(), [200, 404], `${n}: one check verifies, the other finds it verified already`);

  const counted = await t.store.db.selectFrom('prefix_traffic').select(sql<number>`SUM(conversions)`.as('n')).where('app_id', '=', app.id).executeTakeFirstOrThrow();
  assert.equal(Number(counted.n), numbers.length * 2, 'one conversion for the prefix and one for the country, per verified number');
});

test('60 Verify v2 verifications to 12 prefixes, each right code checked on both servers at once: one approves, each number counted once', async () => {
  const account = await t.of.services.verifyCredentials.createAccount('Burst');
  const headers = { authorization: `Basic ${Buffer.from(`${account.sid}:${account.authToken}`).toString('base64')}` };
  const v2 = (server: OpenFactor, path: string, form: string) => call(server.server, 'POST', `/v2${path}`, { headers, form });
  const made = await v2(t.of, '/Services', 'FriendlyName=Burst');
  assert.equal(made.status, 201, made.text);
  const va: string = made.json.sid;
  const { app_id: appId } = await t.store.db.selectFrom('verify_services').select('app_id').where('sid', '=', va).executeTakeFirstOrThrow();
  await t.of.services.applications.updateSettings(appId, { sendsPerHour: 1000, sendsPerNumberHour: 1000, sendsPerNumberDay: 1000, prefixSendsPerWindow: 10_000, countrySendsPerWindow: 100_000, dailySendBudget: 100_000 });
  const numbers = Array.from({ length: 60 }, (_, i) => `+1718${201 + (i % PREFIXES)}${String(3000 + i).padStart(4, '0')}`);
  const sids = new Map<string, string>();
  for (const n of numbers) {
    const r = await v2(t.of, `/Services/${va}/Verifications`, `To=${encodeURIComponent(n)}&Channel=sms`);
    assert.equal(r.status, 201, r.text);
    sids.set(n, r.json.sid);
  }
  const sent = await sentTexts('+1718', numbers.length);
  assert.equal(sent.size, numbers.length, 'every code delivered');

  // Each number's right code on both servers at once (one by To, one by VerificationSid), the two meeting the prefixes in opposite orders.
  const check = (server: OpenFactor, n: string, by: 'To' | 'VerificationSid') =>
    v2(server, `/Services/${va}/VerificationCheck`, `${by}=${encodeURIComponent(by === 'To' ? n : sids.get(n)!)}&Code=${codeIn(sent.get(n)!, 6)}`);
  const checks = numbers.flatMap((n, i) => [[t.of, n, 'To'] as const, [second, numbers[numbers.length - 1 - i], 'VerificationSid'] as const]);
  const answers = await Promise.all(checks.map(([server, n, by]) => check(server, n, by)));
  const byNumber = new Map(numbers.map((n) => [n, [] as string[]]));
  for (const [j, r] of answers.entries()) byNumber.get(checks[j][1])!.push(r.status === 200 ? `200 ${r.json.status}` : `${r.status} ${r.json?.code}`);
  for (const [n, got] of byNumber) assert.deepEqual(got.sort(), ['200 approved', '404 20404'], `${n}: one check approves, the other finds it gone`);

  const counted = await t.store.db.selectFrom('prefix_traffic').select(sql<number>`SUM(conversions)`.as('n')).where('app_id', '=', appId).executeTakeFirstOrThrow();
  assert.equal(Number(counted.n), numbers.length * 2, 'one conversion for the prefix and one for the country, per approved number');
});

test('two nodes counting conversions for the same prefixes in opposite orders, 100 times at once: none fails, each counted', async () => {
  const app = await t.newApplication('Busy Shop');
  const numbers = Array.from({ length: PREFIXES }, (_, i) => `+1415${201 + i}0000`);
  const ROUNDS = 100;
  for (let round = 0; round < ROUNDS; round++) {
    const counts = [...numbers.map((n) => t.of.services.guard.converted(app.id, n)), ...[...numbers].reverse().map((n) => second.services.guard.converted(app.id, n))];
    const failed = (await Promise.allSettled(counts)).filter((r) => r.status === 'rejected');
    assert.deepEqual(failed, [], `round ${round}`);
  }
  const counted = await t.store.db.selectFrom('prefix_traffic').select(sql<number>`SUM(conversions)`.as('n')).where('app_id', '=', app.id).executeTakeFirstOrThrow();
  assert.equal(Number(counted.n), ROUNDS * PREFIXES * 2 * 2, 'prefix and country, on both nodes, every round');
});

test('60 codes to one prefix at once on two servers, 20 allowed a window: exactly 20 go out, each send counted once', async () => {
  const app = await t.newApplication('Flooded');
  await t.of.services.applications.updateSettings(app.id, { prefixSendsPerWindow: 20, countrySendsPerWindow: 100_000, dailySendBudget: 100_000 });
  const start = (server: OpenFactor, i: number) =>
    call(server.server, 'POST', '/protected/json/phones/verification/start', { key: app.apiKey, form: `via=sms&phone_number=212-555-${String(i).padStart(4, '0')}&country_code=1` });
  const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => start(i % 2 === 0 ? t.of : second, i)));
  const statuses = answers.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 200).length, 20, `the window's allowance and no more: ${statuses.join(' ')}`);
  assert.deepEqual([...new Set(answers.filter((r) => r.status !== 200).map((r) => r.json.error_code))], ['60003']);
  const row = await t.store.db.selectFrom('prefix_traffic').select('sends').where('app_id', '=', app.id).where('prefix', '=', '+1212555').executeTakeFirstOrThrow();
  // Sends refused by the quarantine once written are not counted; those that raced it are.
  assert.ok(Number(row.sends) >= 21 && Number(row.sends) <= 60, `counted: ${row.sends}`);
});
