// Lost-phone flows over several server processes on one database (issue 17): what is pending
// lives in the database, so the caps hold when guesses are spread over three processes at the
// same instant, a recovery is confirmed and completed once however many nodes race for it, and
// a recovery waiting when its node is killed (SIGKILL) takes effect through another.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { e164, errorCode, phoneDevice } from '../support/devices.ts';
import { startApp, testEnv, type TestApp } from '../support/harness.ts';
import { spawnServer, spawnServers, type ServerProcess } from '../support/process.ts';
import { call } from '../support/http.ts';
import { codeIn, createUser, delivered } from '../support/tokens.ts';
import { until } from '../support/wait.ts';
import { webhookReceiver } from '../support/webhooks.ts';
import { generateKeyPair, OpenFactorDevice, type FetchLike } from '../../sdk/device/src/index.ts';

const BURST = 200;
const WAIT_S = 2;
const masterKey = randomBytes(32).toString('hex');
const env = { OPENFACTOR_MASTER_KEY: masterKey, OPENFACTOR_ACCOUNT_RECOVERY_WAIT_S: String(WAIT_S) };
let t: TestApp;
let base: string;
let servers: ServerProcess[] = [];
let pools: Pool[] = [];
let hooks: Awaited<ReturnType<typeof webhookReceiver>>;

before(async () => {
  t = await startApp(env);
  base = await t.listen();
  hooks = await webhookReceiver(t, t.appId, ['account_recovery_started', 'account_recovery_approved', 'account_recovery_canceled']);
  servers = await spawnServers(3, { ...testEnv(t.db), ...env });
  pools = servers.map((s) => new Pool(s.url, { connections: BURST + 10 }));
});
after(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await Promise.all(servers.map((s) => s.stop()));
  await t?.close();
  await hooks?.close();
});

async function post(pool: Pool, path: string, body: object): Promise<{ status: number; code?: string }> {
  const r = await pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await r.body.json()) as { error_code?: string };
  return { status: r.statusCode, code: json.error_code };
}

const tally = (answers: { code?: string; status: number }[]) => {
  const out: Record<string, number> = {};
  for (const a of answers) out[a.code ?? String(a.status)] = (out[a.code ?? String(a.status)] ?? 0) + 1;
  return out;
};

/** A new device's key, as a registration sends it. */
const someKey = async () => ({ public_key: (await generateKeyPair('ES256', false)).publicKey, algorithm: 'ES256', os_type: 'web', name: 'guess' });

async function startRecovery(number: string, email: string) {
  const { id } = await OpenFactorDevice.startAccountRecovery(base, { countryCode: '1', phoneNumber: number, via: 'sms' });
  await t.of.services.recoveries.settled();
  return { id, phoneCode: codeIn((await delivered(t, e164(number))).text, 6), emailCode: codeIn((await delivered(t, email)).text, 6) };
}

test('200 wrong codes at once over three processes: exactly five are checked, then the recovery is over, even for the right codes', async () => {
  await createUser(t, 'ln-cap@example.com', '415-555-0801');
  const r = await startRecovery('415-555-0801', 'ln-cap@example.com');
  const key = await someKey();
  const wrong = (i: number) => String((Number(r.emailCode) + 1 + i) % 1_000_000).padStart(6, '0');
  const answers = await Promise.all(
    Array.from({ length: BURST }, (_, i) => post(pools[i % 3], `/device/v1/account_recoveries/${r.id}/confirm`, { phone_code: r.phoneCode, email_code: wrong(i), ...key })),
  );
  assert.deepEqual(tally(answers), { '60048': 5, '60046': BURST - 5 });
  assert.equal((await post(pools[0], `/device/v1/account_recoveries/${r.id}/confirm`, { phone_code: r.phoneCode, email_code: r.emailCode, ...key })).code, '60046');

  // An id whose number is unknown (nothing stored) is held to the same five, across processes.
  const { id: unknown } = await OpenFactorDevice.startAccountRecovery(base, { countryCode: '1', phoneNumber: '415-555-0809', via: 'sms' });
  const guesses = await Promise.all(
    Array.from({ length: BURST }, (_, i) => post(pools[i % 3], `/device/v1/account_recoveries/${unknown}/confirm`, { phone_code: '123456', email_code: wrong(i), ...key })),
  );
  assert.deepEqual(tally(guesses), { '60048': 5, '60046': BURST - 5 });
});

test('the right codes sent to three processes at once register one device; the wait ends once, on whichever node, with one webhook', async () => {
  const user = await createUser(t, 'ln-once@example.com', '415-555-0802');
  const { device: old } = await phoneDevice(t, base, '415-555-0802', 'Old phone');
  const r = await startRecovery('415-555-0802', 'ln-once@example.com');
  const keys = await Promise.all([0, 1, 2, 3, 4, 5].map(() => someKey()));
  const answers = await Promise.all(keys.map((k, i) => post(pools[i % 3], `/device/v1/account_recoveries/${r.id}/confirm`, { phone_code: r.phoneCode, email_code: r.emailCode, ...k })));
  assert.deepEqual(tally(answers), { '200': 1, '60046': 5 });
  assert.equal((await old.accountRecoveries()).length, 1);

  // Four nodes sweep every second; the recovery completes once.
  await until('completed', async () => (await call(t.of.server, 'GET', `/protected/json/users/${user}/status`, { key: t.apiKey })).json.status.last_account_recovery_at, WAIT_S * 1000 + 5000);
  await assert.rejects(old.refreshAccounts(), errorCode('60087'));
  const approvedOf = async () => (await hooks.received()).filter((e) => e.event === 'account_recovery_approved' && e.objects.account_recovery.s_id === r.id);
  await until('the webhook delivered', async () => (await approvedOf()).length > 0, 15_000);
  await new Promise((res) => setTimeout(res, 1500)); // more sweeps and deliveries, which must add nothing
  assert.equal((await approvedOf()).length, 1, 'one account_recovery_approved');
  const rows = await t.store.db.selectFrom('account_recoveries').select(['status']).where('id', '=', r.id).execute();
  assert.deepEqual(rows, [{ status: 'completed' }]);
});

test('a recovery waiting when its node is killed takes effect through another node', async () => {
  const user = await createUser(t, 'ln-kill@example.com', '415-555-0803');
  const r = await startRecovery('415-555-0803', 'ln-kill@example.com');
  const doomed = await spawnServer({ ...testEnv(t.db), ...env });
  // The device talks to whichever node is up, as behind a load balancer.
  let target = doomed.url;
  const viaBalancer: FetchLike = (url, init) => globalThis.fetch(url.replace(doomed.url, target), init);
  try {
    const fresh = await OpenFactorDevice.confirmAccountRecovery(doomed.url, r.id, { phoneCode: r.phoneCode, emailCode: r.emailCode }, { fetch: viaBalancer, name: 'New phone' });
    assert.equal(fresh.status, 'pending_recovery');
    await doomed.kill9();
    target = servers[2].url;
    await until('active through another node', async () => (await fresh.refreshStatus()) === 'active', WAIT_S * 1000 + 5000);
    assert.deepEqual(fresh.accounts.map((a) => a.authy_id), [user]);
  } finally {
    await doomed.stop();
  }
});
