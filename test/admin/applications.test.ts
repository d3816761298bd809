// The admin API over a real socket: applications made, changed and re-keyed over HTTP, and the
// operator's views of users, traffic per day and callback deliveries. The changes are the real
// ones: a new key works and the old one stops, a setting changes what the Authy API does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PHONES, startApp, type TestApp } from '../support/harness.ts';
import { appToken, codeIn, createUser, delivered, spokenCode } from '../support/tokens.ts';
import { createApproval, Receiver, registerDevice } from '../support/onetouch.ts';
import { until } from '../support/wait.ts';
import { jwtVerify } from 'jose';

let t: TestApp;
let base: string;
let receiver: Receiver;
before(async () => {
  t = await startApp();
  base = await t.listen();
  receiver = await new Receiver().start();
});
after(async () => {
  await t.close();
  await receiver.close();
});

async function admin(method: string, path: string, body?: unknown, token = t.config.adminToken) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text), text };
}

const details = (key: string) => fetch(`${base}/protected/json/app/details`, { headers: { 'x-authy-api-key': key } });

test('every admin route wants the admin token', async () => {
  for (const [method, path] of [['GET', '/admin/applications'], ['POST', '/admin/applications'], ['GET', `/admin/applications/${t.appId}/users`], ['POST', `/admin/applications/${t.appId}/api_key`]]) {
    const r = await admin(method, path, method === 'POST' ? {} : undefined, 'wrong');
    assert.equal(r.status, 401, `${method} ${path}`);
    assert.equal(r.json.error_code, '60001');
  }
  assert.equal((await details(t.apiKey)).status, 200, 'nothing was re-keyed');
});

test('create an application: its key is in the answer only, and it works on the Authy API', async () => {
  const made = await admin('POST', '/admin/applications', { name: '  Acme Shop ' });
  assert.equal(made.status, 201, made.text);
  assert.equal(made.json.application.name, 'Acme Shop');
  assert.equal(made.json.application.settings.tokenLength, 7);
  assert.equal(made.json.application.onetouch_callback, null);
  const r = await details(made.json.api_key);
  assert.equal(r.status, 200);
  assert.equal(((await r.json()) as { app: { name: string } }).app.name, 'Acme Shop');

  const list = await admin('GET', '/admin/applications');
  assert.deepEqual(list.json.applications.map((a: { name: string }) => a.name), ['Test Bank', 'Acme Shop']);
  assert.ok(!list.text.includes(made.json.api_key), 'keys are never listed');
  assert.ok(!(await admin('GET', `/admin/applications/${made.json.application.id}`)).text.includes(made.json.api_key));

  for (const name of ['', '   ', 'x'.repeat(65), 'tab\there', 42]) {
    const bad = await admin('POST', '/admin/applications', { name });
    assert.equal(bad.status, 400, JSON.stringify(name));
    assert.equal(bad.json.message, 'Invalid parameter: name - is required (at most 64 printable characters)');
  }
});

test('settings change what the Authy API does; bad ones are refused with the reason and change nothing', async () => {
  const { id, apiKey } = await t.newApplication('Settings App');
  const changed = await admin('POST', `/admin/applications/${id}/settings`, { tokenLength: 8, genericTokensEnabled: false });
  assert.equal(changed.status, 200, changed.text);
  assert.equal(changed.json.application.settings.tokenLength, 8);
  assert.equal(changed.json.application.settings.genericTokensEnabled, false);
  // Generic-authenticator enrolment is now off for this application (60123).
  const userId = await createUser({ ...t, apiKey } as TestApp, 'settings@example.com', PHONES.us[2]);
  const qr = await fetch(`${base}/protected/json/users/${userId}/secret`, { method: 'POST', headers: { 'x-authy-api-key': apiKey } });
  assert.equal(qr.status, 400);
  assert.equal(((await qr.json()) as { error_code: string }).error_code, '60123');

  for (const [patch, why] of [
    [{ tokenLength: 9 }, /tokenLength must be an integer from 6 to 8/],
    [{ tokenLength: 'seven' }, /tokenLength - must be a number or a boolean/],
    [{ apiKey: 'x' }, /apiKey - is not a setting/],
  ] as const) {
    const bad = await admin('POST', `/admin/applications/${id}/settings`, patch);
    assert.equal(bad.status, 400, JSON.stringify(patch));
    assert.match(bad.json.message, why);
  }
  assert.equal((await admin('GET', `/admin/applications/${id}`)).json.application.settings.tokenLength, 8, 'unchanged by the refused patches');
  assert.equal((await admin('POST', '/admin/applications/999999/settings', { tokenLength: 6 })).status, 404);
  assert.equal((await admin('GET', '/admin/applications/abc')).status, 404);
});

test('a new API key works at once and the old one stops', async () => {
  const { id, apiKey } = await t.newApplication('Rekey App');
  const r = await admin('POST', `/admin/applications/${id}/api_key`);
  assert.equal(r.status, 200);
  assert.notEqual(r.json.api_key, apiKey);
  assert.equal((await details(r.json.api_key)).status, 200);
  assert.equal((await details(apiKey)).status, 401);
});

test('the OneTouch callback: set, refused for a private address not allowed, removed', async () => {
  const { id } = await t.newApplication('Callback App');
  const set = await admin('POST', `/admin/applications/${id}/callback`, { url: 'https://8.8.8.8/authy', method: 'GET' });
  assert.equal(set.status, 200, set.text);
  assert.deepEqual(set.json.application.onetouch_callback, { url: 'https://8.8.8.8/authy', method: 'GET' });
  const bad = await admin('POST', `/admin/applications/${id}/callback`, { url: 'http://10.0.0.1/cb' });
  assert.equal(bad.status, 400);
  assert.match(bad.json.message, /the callback URL cannot be called: the host is 10\.0\.0\.1, a private address/);
  assert.equal((await admin('POST', `/admin/applications/${id}/callback`, { url: 'https://8.8.8.8/x', method: 'PUT' })).status, 400);
  const removed = await admin('POST', `/admin/applications/${id}/callback`, { url: null });
  assert.equal(removed.json.application.onetouch_callback, null);
});

test('users: newest first in pages, phones masked, devices counted', async () => {
  const { id, apiKey } = await t.newApplication('Users App');
  const as = { ...t, apiKey } as TestApp;
  const ids: number[] = [];
  for (const [i, phone] of PHONES.us.slice(0, 5).entries()) ids.push(await createUser(as, `user${i}@example.com`, phone));
  await registerDevice(as, base, ids[4]);

  const first = await admin('GET', `/admin/applications/${id}/users?limit=3`);
  assert.equal(first.status, 200);
  assert.equal(first.json.total, 5);
  assert.deepEqual(first.json.users.map((u: { id: number }) => u.id), [ids[4], ids[3], ids[2]]);
  assert.deepEqual(first.json.users[0], { id: ids[4], email: 'user4@example.com', cellphone: '+1-XXX-XXX-XX20', country_code: 1, created_at: first.json.users[0].created_at, devices: 1, locked_until: null });
  assert.ok(!first.text.includes('5550120'), 'no full phone number');
  const second = await admin('GET', `/admin/applications/${id}/users?limit=3&before_id=${first.json.next_before_id}`);
  assert.deepEqual(second.json.users.map((u: { id: number }) => u.id), [ids[1], ids[0]]);
  assert.equal(second.json.next_before_id, null);
  // Another application's users are not in this list.
  assert.ok(!(await admin('GET', `/admin/applications/${t.appId}/users`)).json.users.some((u: { id: number }) => ids.includes(u.id)));
  assert.equal((await admin('GET', `/admin/applications/${id}/users?limit=0`)).status, 400);
  assert.equal((await admin('GET', `/admin/applications/${id}/users?limit=abc`)).status, 400);
});

test('traffic per day counts messages by channel and status and approval requests by status; deliveries list every attempt', async () => {
  const { id, apiKey } = await t.newApplication('Traffic App');
  const as = { ...t, apiKey, appId: id } as TestApp;
  await t.of.services.applications.setCallback(id, receiver.url, 'POST', t.of.services.destinations);
  const user = await createUser(as, 'traffic@example.com', PHONES.us[5]);
  for (const path of [`/protected/json/sms/${user}?force=true`, `/protected/json/sms/${user}?force=true`, `/protected/json/call/${user}?force=true`]) {
    assert.equal((await fetch(`${base}${path}`, { headers: { 'x-authy-api-key': apiKey } })).status, 200);
  }
  await delivered(as, '+16465550133');
  await until('all three sent', async () => (await t.store.db.selectFrom('outbox').select('status').where('app_id', '=', id).execute()).filter((r) => r.status === 'sent').length === 3);
  const device = await registerDevice(as, base, user);
  await createApproval(as, user, { message: 'Login' });
  await createApproval(as, user, { message: 'Second' });
  const [one] = await device.pendingApprovals();
  await device.deny(one);
  // Token verifications by result: the call's code (valid), again (reused), two wrong ones (the
  // reused one and the second wrong one reach a cap of 3 and start a lockout), then one refused
  // unchecked (locked).
  const code = spokenCode((await delivered(as, '+16465550133')).text, 7);
  const wrong = code === '1234567' ? '7654321' : '1234567';
  await t.of.services.applications.updateSettings(id, { verifyMaxFailures: 3 });
  const verifyStatus = async (token: string) => (await fetch(`${base}/protected/json/verify/${token}/${user}`, { headers: { 'x-authy-api-key': apiKey } })).status;
  assert.deepEqual([await verifyStatus(code), await verifyStatus(code), await verifyStatus(wrong), await verifyStatus(wrong), await verifyStatus(code)], [200, 401, 401, 401, 429]);

  const r = await admin('GET', `/admin/applications/${id}/traffic?days=7`);
  assert.equal(r.status, 200);
  assert.equal(r.json.days.length, 7);
  const today = r.json.days[6];
  assert.equal(today.date, new Date().toISOString().slice(0, 10));
  assert.deepEqual(today.messages, { sms: { sent: 2 }, voice: { sent: 1 } });
  assert.deepEqual(today.approvals, { denied: 1, pending: 1 });
  assert.deepEqual(today.token_checks, { valid: 1, reused: 1, invalid: 2, locked: 1 });
  assert.deepEqual(r.json.days[0], { date: r.json.days[0].date, messages: {}, approvals: {}, verifications: {}, token_checks: {} });
  // Another application's traffic counts none of them.
  const other = await admin('GET', `/admin/applications/${(await t.newApplication('Quiet Traffic')).id}/traffic?days=1`);
  assert.deepEqual(other.json.days[0].token_checks, {});
  assert.equal((await admin('GET', `/admin/applications/${id}/traffic?days=91`)).status, 400);

  // The delivery log: every message, phones masked, never a text (the codes are in them).
  const log = await admin('GET', `/admin/applications/${id}/messages?limit=10`);
  assert.equal(log.status, 200);
  assert.deepEqual(log.json.messages.map((m: { channel: string; to: string; status: string; provider: string }) => [m.channel, m.to, m.status, m.provider]), [
    ['voice', '+1-XXX-XXX-XX33', 'sent', 'console'],
    ['sms', '+1-XXX-XXX-XX33', 'sent', 'console'],
    ['sms', '+1-XXX-XXX-XX33', 'sent', 'console'],
  ]);
  assert.ok(!log.text.includes('5550133'), 'no full phone number');
  const voice = await delivered(as, '+16465550133'); // the newest: the call
  assert.ok(!log.text.includes(spokenCode(voice.text, 7)), 'no code');
  assert.ok(log.json.messages.every((m: Record<string, unknown>) => !('text' in m)));

  await until('the callback arrived', () => receiver.requests.length > 0);
  // The attempt is recorded when it starts; the delivery is marked when the answer comes.
  const d = await until('the delivery is marked', async () => {
    const list = (await admin('GET', `/admin/applications/${id}/deliveries`)).json.deliveries;
    return list.length > 0 && list[0].status !== 'pending' && list;
  });
  assert.equal(d[0].kind, 'callback');
  assert.equal(d[0].status, 'delivered');
  assert.equal(d[0].attempts[0].http_status, 200);
});

test('bad bodies and parameters get Authy-style 400s and change nothing', async () => {
  const before = (await admin('GET', `/admin/applications/${t.appId}`)).json.application;
  const raw = async (method: string, path: string, body: string, type = 'application/json') => {
    const res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${t.config.adminToken}`, 'content-type': type }, body });
    return { status: res.status, json: (await res.json()) as { error_code: string; message: string } };
  };
  for (const [path, body] of [
    ['/admin/applications', '{bad'],
    ['/admin/applications', '["a"]'],
    [`/admin/applications/${t.appId}/settings`, '{"tokenLength":{"x":1}}'],
    [`/admin/applications/${t.appId}/callback`, '{"url":["https://8.8.8.8/"]}'],
    [`/admin/applications/${t.appId}/callback`, '{"url":"not a url"}'],
  ]) {
    const r = await raw('POST', path, body);
    assert.equal(r.status, 400, `${path} ${body}`);
    assert.match(r.json.error_code, /^6000[24]$/);
  }
  for (const q of ['users?limit[]=1', 'users?before_id=-1', 'traffic?days=1e3', 'deliveries?limit=501']) {
    assert.equal((await admin('GET', `/admin/applications/${t.appId}/${q}`)).status, 400, q);
  }
  // Ids past 32 bits are no rows (PostgreSQL would refuse them in a query): 404, not 500.
  assert.equal((await admin('GET', '/admin/applications/4294967296')).status, 404);
  assert.equal((await admin('POST', '/admin/applications/4294967296/api_key')).status, 404);
  assert.equal((await admin('POST', `/admin/applications/${t.appId}/users/4294967296/unlock`)).status, 404);
  assert.equal((await admin('GET', '/admin/outbox?app_id=4294967296')).status, 200);
  assert.deepEqual((await admin('GET', `/admin/applications/${t.appId}`)).json.application, before);
});

test('quarantines: listed as the pumping defence closed them; a lift reopens the prefix at once, and an attack closes it again', async () => {
  const { id, apiKey } = await t.newApplication('Pumped App');
  assert.equal((await admin('POST', `/admin/applications/${id}/settings`, { prefixSendsPerWindow: 2 })).status, 200);
  const start = (n: number) =>
    fetch(`${base}/protected/json/phones/verification/start`, {
      method: 'POST',
      headers: { 'x-authy-api-key': apiKey, 'content-type': 'application/x-www-form-urlencoded' },
      body: `via=sms&country_code=1&phone_number=212-555-${String(n).padStart(4, '0')}`,
    }).then((r) => r.status);
  // Two sends to the prefix are allowed this window; the third crosses the line and closes it.
  assert.deepEqual([await start(1), await start(2), await start(3), await start(4)], [200, 200, 429, 429]);

  const listed = await admin('GET', `/admin/applications/${id}/quarantines`);
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.json.quarantines.map((q: { prefix: string; rule: string }) => [q.prefix, q.rule]), [['+1212555', 'prefix_velocity']]);
  assert.ok(Date.parse(listed.json.quarantines[0].until) > Date.now() + 55 * 60_000, 'closed for an hour');
  assert.deepEqual((await admin('GET', `/admin/applications/${t.appId}/quarantines`)).json.quarantines, [], 'only this application');

  const lifted = await admin('POST', `/admin/applications/${id}/quarantines/lift`, { prefix: '+1212555' });
  assert.equal(lifted.status, 200, lifted.text);
  assert.deepEqual((await admin('GET', `/admin/applications/${id}/quarantines`)).json.quarantines, []);
  // Judged afresh: the window's allowance again, then closed again if the traffic goes on.
  assert.deepEqual([await start(5), await start(6), await start(7)], [200, 200, 429]);

  assert.equal((await admin('POST', `/admin/applications/${id}/quarantines/lift`, { prefix: '+1999' })).status, 404);
  assert.equal((await admin('POST', `/admin/applications/${id}/quarantines/lift`, { prefix: "+1'; DROP" })).status, 400);
});

test('allowed countries: codes go only where the operator says; bad codes are refused', async () => {
  const { id, apiKey } = await t.newApplication('Country App');
  const as = { ...t, apiKey } as TestApp;
  const user = await createUser(as, 'us@example.com', PHONES.us[3]);
  const sms = () => fetch(`${base}/protected/json/sms/${user}?force=true`, { headers: { 'x-authy-api-key': apiKey } });

  const set = await admin('POST', `/admin/applications/${id}/countries`, { countries: ['pt', 'BR'] });
  assert.equal(set.status, 200, set.text);
  assert.deepEqual(set.json.application.allowed_countries, ['PT', 'BR']);
  const refused = await sms();
  assert.equal(refused.status, 400);
  assert.equal(((await refused.json()) as { error_code: string }).error_code, '60013');

  const bad = await admin('POST', `/admin/applications/${id}/countries`, { countries: ['PT', 'XX'] });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.message, 'Invalid parameter: countries - XX is not an ISO 3166 region code (like PT, US, BR)');
  assert.equal((await admin('POST', `/admin/applications/${id}/countries`, { countries: [{ a: 1 }] })).status, 400);
  assert.deepEqual((await admin('GET', `/admin/applications/${id}`)).json.application.allowed_countries, ['PT', 'BR'], 'unchanged');

  const everywhere = await admin('POST', `/admin/applications/${id}/countries`, { countries: null });
  assert.deepEqual(everywhere.json.application.allowed_countries, []);
  assert.equal((await sms()).status, 200);
});

test('unlock: a user locked out by wrong tokens verifies again at once; only this application\'s users', async () => {
  const { id, apiKey } = await t.newApplication('Lockout App');
  const as = { ...t, apiKey, appId: id } as TestApp;
  const user = await createUser(as, 'locked@example.com', PHONES.us[4]);
  const verify = async (token: string) => (await fetch(`${base}/protected/json/verify/${token}/${user}?force=true`, { headers: { 'x-authy-api-key': apiKey } })).status;
  for (let i = 0; i < 10; i++) assert.equal(await verify(String(1000000 + i)), 401);
  assert.equal(await verify(await appToken(as, user)), 429, 'locked, even for the right token');
  const listed = (await admin('GET', `/admin/applications/${id}/users`)).json.users[0];
  assert.ok(Date.parse(listed.locked_until) > Date.now());

  assert.equal((await admin('POST', `/admin/applications/${t.appId}/users/${user}/unlock`)).status, 404, "another application's user");
  assert.equal((await admin('POST', `/admin/applications/${id}/users/999999/unlock`)).status, 404);
  const unlocked = await admin('POST', `/admin/applications/${id}/users/${user}/unlock`);
  assert.equal(unlocked.status, 200, unlocked.text);
  assert.equal((await admin('GET', `/admin/applications/${id}/users`)).json.users[0].locked_until, null);
  assert.equal(await verify(await appToken(as, user)), 200);
});

test('webhooks, delivery providers and dashboard keys, made over the admin API, act at once', async () => {
  const hooks = `/admin/applications/${t.appId}/webhooks`;
  // A webhook: its signing key only in the answer that makes it; the event reaches the customer.
  const made = await admin('POST', hooks, { name: 'audit', url: `${receiver.url.replace(/\/authy\/callback$/, '')}/hook`, events: ['user_added'] });
  assert.equal(made.status, 201, made.text);
  assert.match(made.json.webhook.signing_key, /^[\w-]{20}$/);
  const listed = await admin('GET', hooks);
  assert.deepEqual(listed.json.webhooks.map((w: Record<string, unknown>) => [w.id, w.name, w.events, 'signing_key' in w]), [[made.json.webhook.id, 'audit', ['user_added'], false]]);
  const before = receiver.requests.length;
  const user = await createUser(t, 'hooked@example.com', PHONES.us[5]);
  const hook = await until('the webhook', () => receiver.requests.slice(before).find((r) => r.url.startsWith('/hook')));
  // A JWT signed with the key the answer gave.
  const { payload } = await jwtVerify(hook.body, new TextEncoder().encode(made.json.webhook.signing_key));
  assert.equal(payload.event, 'user_added');
  assert.equal((payload.objects as { user: { s_authy_id: string } }).user.s_authy_id, String(user));
  assert.equal((await admin('POST', hooks, { name: 'x', url: 'ftp://nope', events: ['user_added'] })).json.error_code, '60098');
  const other = await t.newApplication('Hookless');
  assert.equal((await admin('DELETE', `/admin/applications/${other.id}/webhooks/${made.json.webhook.id}`)).json.error_code, '60100', 'not another application\'s');
  assert.equal((await admin('DELETE', `${hooks}/${made.json.webhook.id}`)).status, 200);
  assert.deepEqual((await admin('GET', hooks)).json.webhooks, []);

  // Providers: an HTTP gateway for this application's SMS, secret hidden, used by the next SMS.
  const providers = `/admin/applications/${t.appId}/providers`;
  const gateway = `${receiver.url.replace(/\/authy\/callback$/, '')}/sms?secret=0123456789abcdef0123`;
  const set = await admin('POST', providers, { sms: gateway });
  assert.equal(set.status, 200, set.text);
  assert.equal(set.json.providers.voice, null);
  assert.equal(set.json.providers.sms.length, 1);
  assert.ok(!set.json.providers.sms[0].includes('0123456789abcdef0123'), `credentials hidden: ${set.json.providers.sms[0]}`);
  const sent = receiver.requests.length;
  assert.equal((await fetch(`${base}/protected/json/sms/${user}?force=true`, { headers: { 'x-authy-api-key': t.apiKey } })).status, 200);
  const sms = await until('the gateway', () => receiver.requests.slice(sent).find((r) => r.url.startsWith('/sms')));
  assert.equal(JSON.parse(sms.body).channel, 'sms');
  const bad = await admin('POST', providers, { voice: 'twilio://AC1:token@api.twilio.com' });
  assert.equal(bad.status, 400);
  assert.match(bad.json.message, /voice/);
  assert.deepEqual((await admin('POST', providers, { sms: '' })).json.providers, { sms: null, voice: null, email: null });

  // Dashboard keys: shown once; the webhooks API takes the access key.
  const keys = await admin('POST', `/admin/applications/${t.appId}/dashboard_keys`);
  assert.equal(keys.status, 200);
  assert.match(keys.json.access_key, /\S{20,}/);
  assert.match(keys.json.signing_key, /\S{20,}/);
  assert.equal((await admin('POST', '/admin/applications/999999/dashboard_keys')).status, 404);
});

test('phone verifications: newest first, phones masked, verified and pending told apart, never a code', async () => {
  const app = await t.newApplication('Verify Co');
  const form = (phone: string) => ({ method: 'POST', headers: { 'x-authy-api-key': app.apiKey, 'content-type': 'application/x-www-form-urlencoded' }, body: `via=sms&country_code=1&phone_number=${phone}` });
  assert.equal((await fetch(`${base}/protected/json/phones/verification/start`, form('202-555-0191'))).status, 200);
  const code = codeIn((await delivered(t, '+12025550191')).text, 4);
  const checked = await fetch(`${base}/protected/json/phones/verification/check?phone_number=202-555-0191&country_code=1&verification_code=${code}`, { headers: { 'x-authy-api-key': app.apiKey } });
  assert.equal(checked.status, 200);
  assert.equal((await fetch(`${base}/protected/json/phones/verification/start`, { ...form('202-555-0192'), body: 'via=call&country_code=1&phone_number=202-555-0192' })).status, 200);
  const r = await admin('GET', `/admin/applications/${app.id}/verifications`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.verifications.map((v: Record<string, unknown>) => [v.phone, v.via, v.status, v.checks]), [
    ['+1-XXX-XXX-XX92', 'call', 'pending', 0],
    ['+1-XXX-XXX-XX91', 'sms', 'verified', 1],
  ]);
  assert.ok(r.json.verifications[1].verified_at);
  assert.ok(!r.text.includes(code) && !r.text.includes('2025550191'), 'no code and no full number');
  assert.deepEqual((await admin('GET', `/admin/applications/${t.appId}/verifications`)).json.verifications.filter((v: { phone: string }) => v.phone.endsWith('91')), [], 'another application\'s are not listed');
  assert.equal((await admin('GET', `/admin/applications/${app.id}/verifications?limit=0`)).status, 400);
});

test('users import over HTTP: past the 64 KiB of Authy bodies, failures told by line, a dry run writes nothing', async () => {
  const app = await t.newApplication('Import Co');
  const post = (text: string, query = '', type = 'application/x-ndjson') =>
    fetch(`${base}/admin/applications/${app.id}/users/import${query}`, { method: 'POST', headers: { authorization: `Bearer ${t.config.adminToken}`, 'content-type': type }, body: text }).then(async (r) => ({ status: r.status, json: await r.json() }));
  const lines = Array.from({ length: 1500 }, (_, i) => JSON.stringify({ authy_id: 80000001 + i, email: `imp${i}@example.com`, e164: `+1202555${String(3000 + i).padStart(4, '0')}` }));
  lines.splice(700, 0, '{"email":"broken"');
  const body = lines.join('\n');
  assert.ok(body.length > 64 * 1024);
  const r = await post(body);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.deepEqual(r.json.summary, { lines: 1501, created: 1500, existing: 0, failed: 1 });
  assert.deepEqual(r.json.failed, [{ line: 701, status: 'failed', reason: 'not a JSON object' }]);
  const status = await fetch(`${base}/protected/json/users/80001500/status`, { headers: { 'x-authy-api-key': app.apiKey } });
  assert.equal(status.status, 200);

  const dry = await post(JSON.stringify({ authy_id: 81000000, email: 'dry@example.com', e164: '+12025559999' }), '?dry_run=true');
  assert.deepEqual([dry.json.dry_run, dry.json.summary.created], [true, 1]);
  assert.equal((await fetch(`${base}/protected/json/users/81000000/status`, { headers: { 'x-authy-api-key': app.apiKey } })).status, 404);

  const plain = await post('{"email":"x@example.com"}', '', 'text/plain');
  assert.equal(plain.status, 400);
  assert.equal(plain.json.success, false);
  assert.equal((await admin('POST', `/admin/applications/${app.id}/users/import`, { users: [] })).status, 400, 'JSON is not the import format');
});
