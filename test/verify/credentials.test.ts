// Verify v2 credentials made by the CLI (its own process, beside a running server) and by the
// admin API; secrets shown once, never in lists; each pair drives the official twilio client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, testEnv, type TestApp } from '../support/harness.ts';
import { runCli } from '../support/process.ts';
import { raw, verifyClient } from '../support/verify.ts';

let t: TestApp;
let base: string;
before(async () => {
  t = await startApp();
  base = await t.listen();
});
after(() => t?.close());

async function admin(method: string, path: string, body?: unknown) {
  const r = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${t.config.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, json: (await r.json()) as any };
}

test('the CLI makes accounts and keys; lists never show secrets; a bad account is refused', async () => {
  const env = { ...testEnv(t.db), OPENFACTOR_MASTER_KEY: t.config.masterKeys[0].key.toString('hex') };
  const made = runCli(['verify', 'accounts', 'create', '--name', 'CLI Co', '--json'], env);
  assert.equal(made.status, 0, made.stderr);
  const account = JSON.parse(made.stdout);
  assert.match(account.account_sid, /^AC[0-9a-f]{32}$/);
  assert.match(account.auth_token, /^[0-9a-f]{32}$/);
  const key = JSON.parse(runCli(['verify', 'keys', 'create', '--account', account.account_sid, '--name', 'web', '--json'], env).stdout);
  assert.match(key.sid, /^SK[0-9a-f]{32}$/);
  assert.equal(key.account_sid, account.account_sid);

  const human = runCli(['verify', 'accounts', 'create', '--name', 'Plain'], env);
  assert.match(human.stdout, /^Created Verify account AC[0-9a-f]{32} "Plain"\.\nAuth token: [0-9a-f]{32}\n/);
  const accounts = runCli(['verify', 'accounts', 'list'], env).stdout;
  assert.match(accounts, new RegExp(`^${account.account_sid}\\tCLI Co\\t`, 'm'));
  assert.ok(!accounts.includes(account.auth_token));
  const keys = runCli(['verify', 'keys', 'list', '--account', account.account_sid, '--json'], env).stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(keys.map((k) => [k.sid, k.name]), [[key.sid, 'web']]);
  assert.ok(!JSON.stringify(keys).includes(key.secret));

  const none = runCli(['verify', 'keys', 'create', '--account', 'AC' + '0'.repeat(32)], env);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /No Verify account/);
  assert.equal(runCli(['verify', 'keys', 'create'], env).status, 2);

  // Both pairs work against the running server at once.
  for (const c of [verifyClient(base, account.account_sid, account.auth_token), verifyClient(base, key.sid, key.secret, account.account_sid)]) {
    assert.equal((await c.verify.v2.services.create({ friendlyName: 'From CLI' })).accountSid, account.account_sid);
  }
});

test('the admin API makes accounts and keys (201, secret once), lists them without secrets', async () => {
  const made = await admin('POST', '/admin/verify/accounts', { name: 'Admin Co' });
  assert.equal(made.status, 201);
  assert.match(made.json.account.sid, /^AC[0-9a-f]{32}$/);
  assert.match(made.json.auth_token, /^[0-9a-f]{32}$/);
  const sid = made.json.account.sid;
  const key = await admin('POST', `/admin/verify/accounts/${sid}/keys`, { name: 'backend' });
  assert.equal(key.status, 201);
  assert.equal(key.json.key.account_sid, sid);
  const list = await admin('GET', '/admin/verify/accounts');
  assert.ok(list.json.accounts.some((a: any) => a.sid === sid && a.name === 'Admin Co'));
  assert.ok(!JSON.stringify(list.json).includes(made.json.auth_token));
  const keys = await admin('GET', `/admin/verify/accounts/${sid}/keys`);
  assert.deepEqual(keys.json.keys.map((k: any) => k.sid), [key.json.key.sid]);
  assert.ok(!JSON.stringify(keys.json).includes(key.json.secret));

  assert.equal((await admin('POST', '/admin/verify/accounts', {})).status, 400);
  assert.equal((await admin('POST', `/admin/verify/accounts/AC${'0'.repeat(32)}/keys`, {})).status, 404);
  assert.equal((await admin('GET', '/admin/verify/accounts/nope/keys')).status, 404);

  const r = await raw(base, 'GET', '/v2/Services', { user: key.json.key.sid, password: key.json.secret });
  assert.equal(r.status, 200);
});

test('wrong Verify credentials count against the address like wrong API keys: blocked with 429 (Twilio body)', async () => {
  const small = await startApp({ OPENFACTOR_AUTH_FAILURES: '3' });
  try {
    const url = await small.listen();
    const account = await small.of.services.verifyCredentials.createAccount('Blocked');
    const wrong = { user: account.sid, password: 'f'.repeat(32) };
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await raw(url, 'GET', '/v2/Services', wrong)).status);
    assert.deepEqual(statuses, [401, 401, 401, 429]);
    const blocked = await raw(url, 'GET', '/v2/Services', { user: account.sid, password: account.authToken });
    assert.equal(blocked.status, 429, 'even the right token while blocked');
    assert.deepEqual(Object.keys(blocked.json).sort(), ['code', 'message', 'more_info', 'status']);
    assert.equal(blocked.json.code, 20429);
    assert.ok(Number(blocked.headers.get('retry-after')) > 0);
  } finally {
    await small.close();
  }
});
