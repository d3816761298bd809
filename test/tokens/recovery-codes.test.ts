// Recovery codes (issue 17): ten single-use codes per set, shown once and stored only as keyed
// hashes; `verify` accepts each once (factor `recovery`), through node-authy and authy-client as
// an application would call them; a new set replaces the old; the attempt cap holds them too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { createUser, verifyUrl } from '../support/tokens.ts';
import { webhookReceiver } from '../support/webhooks.ts';
import { registerDevice } from '../support/onetouch.ts';
import { OpenFactorError } from '../../sdk/device/src/index.ts';

const require = createRequire(import.meta.url);
const authyFactory = require('authy') as (key: string, url: string) => any;
const { Client } = require('authy-client');

let t: TestApp;
let base: string;
let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
before(async () => {
  t = await startApp();
  base = await t.listen();
  hooks = await webhookReceiver(t, t.appId, ['token_verified']);
});
after(async () => {
  await t.close();
  await hooks.close();
});

const newCodes = async (id: number, key = t.apiKey) => {
  const r = await call(t.of.server, 'POST', `/protected/json/users/${id}/recovery_codes`, { key });
  assert.equal(r.status, 200, r.text);
  return r.json.recovery_codes as string[];
};
const left = async (id: number, key = t.apiKey) => (await call(t.of.server, 'GET', `/protected/json/users/${id}/recovery_codes`, { key })).json;

test('ten distinct 8-digit codes, shown once, stored only as hashes', async () => {
  const id = await createUser(t, 'rc-store@example.com', '415-555-0301');
  assert.deepEqual(await left(id), { remaining: 0, total: 0, created_at: null, message: 'Recovery codes.', success: true });
  const codes = await newCodes(id);
  assert.equal(codes.length, 10);
  assert.equal(new Set(codes).size, 10);
  for (const c of codes) assert.match(c, /^\d{8}$/);
  const rows = await t.store.db.selectFrom('recovery_codes').select('code_hash').where('user_id', '=', id).execute();
  assert.equal(rows.length, 10);
  for (const r of rows) for (const c of codes) assert.ok(!r.code_hash.includes(c), 'no code is stored as it is');
  const status = await left(id);
  assert.equal(status.remaining, 10);
  assert.ok(!JSON.stringify(status).includes(codes[0]), 'the codes are never shown again');
});

test('node-authy and authy-client verify a code once (factor "recovery"); a new set replaces the old', async () => {
  const id = await createUser(t, 'rc-verify@example.com', '415-555-0302');
  const codes = await newCodes(id);
  const authy = authyFactory(t.apiKey, base);
  const byNodeAuthy = await new Promise<{ err: any; res: any }>((resolve) => authy.verify(id, codes[0], (err: any, res: any) => resolve({ err, res })));
  assert.equal(byNodeAuthy.err, null, JSON.stringify(byNodeAuthy.err));
  assert.equal(byNodeAuthy.res.token, 'is valid');
  assert.equal(byNodeAuthy.res.device.os_type, 'recovery', 'the answer names the factor');

  const [verified] = await hooks.waitFor('token_verified');
  assert.equal(verified.objects.token.s_factor, 'recovery', 'the webhook names the factor (its signature checked)');
  assert.equal(verified.objects.user.s_authy_id, String(id));

  const client = new Client({ key: t.apiKey }, { host: base });
  assert.equal((await client.verifyToken({ authyId: id, token: codes[1] })).token, 'is valid');
  await assert.rejects(client.verifyToken({ authyId: id, token: codes[1] }), (e: any) => e.code === 401 && e.body.error_code === '60019', 'a used code is refused as reused');
  assert.equal((await left(id)).remaining, 8);

  const fresh = await newCodes(id);
  const old = await call(t.of.server, 'GET', verifyUrl(codes[2], id), { key: t.apiKey });
  assert.equal(old.status, 401);
  assert.equal(old.json.error_code, '60020', 'the old set stopped working');
  assert.equal((await call(t.of.server, 'GET', verifyUrl(fresh[0], id), { key: t.apiKey })).json.token, 'is valid');
  assert.equal((await left(id)).remaining, 9);
});

test('a code is one user\'s, in one application', async () => {
  const a = await createUser(t, 'rc-a@example.com', '415-555-0303');
  const b = await createUser(t, 'rc-b@example.com', '415-555-0304');
  const codes = await newCodes(a);
  assert.equal((await call(t.of.server, 'GET', verifyUrl(codes[0], b), { key: t.apiKey })).status, 401);
  const other = await t.newApplication('Other Bank');
  assert.equal((await call(t.of.server, 'POST', `/protected/json/users/${a}/recovery_codes`, { key: other.apiKey })).status, 404, "another application's user is not found");
  assert.equal((await call(t.of.server, 'GET', verifyUrl(codes[0], a), { key: t.apiKey })).json.token, 'is valid');
});

test('the attempt cap holds recovery codes; one code sent twenty times at once verifies once', async () => {
  const app = await t.newApplication('Capped Bank');
  await t.of.services.applications.updateSettings(app.id, { verifyMaxFailures: 3 });
  const id = await createUser(t, 'rc-cap@example.com', '415-555-0305', '1', app.apiKey);
  const codes = await newCodes(id, app.apiKey);
  for (let i = 0; i < 3; i++) {
    const wrong = codes.includes('12345678') ? '87654321' : '12345678';
    assert.equal((await call(t.of.server, 'GET', verifyUrl(wrong, id), { key: app.apiKey })).status, 401);
  }
  const locked = await call(t.of.server, 'GET', verifyUrl(codes[0], id), { key: app.apiKey });
  assert.equal(locked.status, 429, 'locked: even a right code is refused');
  assert.equal((await left(id, app.apiKey)).remaining, 10, 'and not used up');

  const free = await createUser(t, 'rc-burst@example.com', '415-555-0306');
  const [code] = await newCodes(free);
  const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${base}${verifyUrl(code, free)}`, { headers: { 'X-Authy-API-Key': t.apiKey } })));
  const statuses = answers.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 200).length, 1, 'verified once');
  // The others count as reused tokens: up to the cap (10) as 401, then the lockout's 429.
  assert.equal(statuses.filter((s) => s === 401).length + statuses.filter((s) => s === 429).length, 19);
  assert.ok(statuses.filter((s) => s === 401).length <= 10);
  assert.equal((await left(free)).remaining, 9);
});

test("a device makes a new set for one of its own accounts, only where the application allows it", async () => {
  const id = await createUser(t, 'rc-device@example.com', '415-555-0316');
  const stranger = await createUser(t, 'rc-stranger@example.com', '415-555-0317');
  const device = await registerDevice(t, base, id);
  const [account] = device.accounts;
  assert.equal(account.recovery_codes, false, 'the account says it is not allowed');
  await assert.rejects(device.newRecoveryCodes(account), (e: unknown) => e instanceof OpenFactorError && e.status === 403 && e.code === '60047');

  await t.of.services.applications.updateSettings(t.appId, { recoveryCodesOnDevices: 1 });
  try {
    assert.equal((await device.refreshAccounts())[0].recovery_codes, true);
    const old = await newCodes(id);
    const codes = await device.newRecoveryCodes(account);
    assert.equal(new Set(codes).size, 10);
    assert.equal((await left(id)).remaining, 10);
    assert.equal((await call(t.of.server, 'GET', verifyUrl(old[0], id), { key: t.apiKey })).status, 401, 'the set the backend made stopped');
    assert.equal((await call(t.of.server, 'GET', verifyUrl(codes[0], id), { key: t.apiKey })).json.token, 'is valid');
    await assert.rejects(device.newRecoveryCodes({ authy_id: stranger, app_id: t.appId }), (e: unknown) => e instanceof OpenFactorError && e.status === 404, 'not for a user this device does not hold');
    assert.equal((await left(stranger)).total, 0);
  } finally {
    await t.of.services.applications.updateSettings(t.appId, { recoveryCodesOnDevices: 0 });
  }
});
