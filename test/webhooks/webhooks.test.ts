// The dashboard webhooks API (wire reference §2.21): signed create/list/delete, refused when the
// signature, access key or events are wrong; events delivered as JWTs signed with the webhook's key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { jwtVerify } from 'jose';
import { PHONES, startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { codeIn, createUser, delivered } from '../support/tokens.ts';
import { createApproval, Receiver, registerDevice } from '../support/onetouch.ts';
import { until } from '../support/wait.ts';
import { authySignature } from '../../src/core/authy-signature.ts';
import type { FastifyInstance } from 'fastify';
import { openStore } from '../../src/store/db.ts';
import { buildServer } from '../../src/app.ts';

let t: TestApp;
let base: string;
let receiver: Receiver;
let keys: { accessKey: string; signingKey: string };
before(async () => {
  t = await startApp({ OPENFACTOR_PUBLIC_URL: 'https://api.authy.example' });
  base = await t.listen();
  receiver = await new Receiver().start('/hooks');
  keys = (await t.of.services.applications.rotateDashboardKeys(t.appId))!;
});
after(async () => {
  await t.close();
  await receiver.close();
});

const URL_BASE = 'https://api.authy.example/dashboard/json/application/webhooks';

let sequence = 0;
/** A fresh nonce: Unix seconds with a fraction, as the docs' example (unique within this file). */
const freshNonce = () => `${(Date.now() / 1000).toFixed(3)}${String(sequence++ % 1000).padStart(3, '0')}`;

type DashboardOptions = { signingKey?: string; apiKey?: string; nonce?: string };

/** A dashboard call as the samples make it: form params, nonce, HMAC over URL + method + sorted params. */
function signed(method: 'GET' | 'POST' | 'DELETE', path: string, params: Record<string, string | string[]>, o: DashboardOptions = {}) {
  const all = { app_api_key: o.apiKey ?? t.apiKey, access_key: keys.accessKey, ...params };
  const nonce = o.nonce ?? freshNonce();
  const signature = authySignature(o.signingKey ?? keys.signingKey, nonce, method, URL_BASE + path, all);
  const form = Object.entries(all)
    .flatMap(([k, v]) => (Array.isArray(v) ? v.map((e) => `${encodeURIComponent(k)}[]=${encodeURIComponent(e)}`) : [`${k}=${encodeURIComponent(v)}`]))
    .join('&');
  return (server: FastifyInstance) => call(server, method, `/dashboard/json/application/webhooks${path}`, { form, headers: { 'x-authy-signature-nonce': nonce, 'x-authy-signature': signature } });
}

const dashboard = (method: 'GET' | 'POST' | 'DELETE', path: string, params: Record<string, string | string[]>, o: DashboardOptions = {}) => signed(method, path, params, o)(t.of.server);

test('create, list, delete: the documented bodies', async () => {
  const created = await dashboard('POST', '', { name: 'user-added', url: receiver.url, events: ['user_added'] });
  assert.equal(created.status, 200, created.text);
  const w = created.json.webhook;
  assert.deepEqual(Object.keys(w), ['id', 'name', 'account_sid', 'service_id', 'url', 'signing_key', 'events', 'creation_date']);
  assert.match(w.id, /^WH_[0-9a-f-]{36}$/);
  assert.match(w.account_sid, /^AC[0-9a-f]{32}$/);
  assert.equal(w.service_id, String(t.appId));
  assert.deepEqual(w.events, ['user_added']);
  assert.equal(created.json.message, 'Webhook created');

  const list = await dashboard('GET', '', {});
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.webhooks.map((x: { id: string }) => x.id), [w.id]);
  assert.equal(list.json.message, 'Webhooks list');

  const removed = await dashboard('DELETE', `/${w.id}`, {});
  assert.deepEqual(removed.json, { message: 'Webhook deleted', success: true });
  assert.deepEqual((await dashboard('GET', '', {})).json.webhooks, []);

  // The older form: DELETE the collection with webhook_id in the body.
  const again = await dashboard('POST', '', { name: 'again', url: receiver.url, events: ['user_removed'] });
  const byBody = await dashboard('DELETE', '', { webhook_id: again.json.webhook.id });
  assert.equal(byBody.status, 200, byBody.text);
  const gone = await dashboard('DELETE', `/${again.json.webhook.id}`, {});
  assert.equal(gone.status, 400);
  assert.equal(gone.json.error_code, '60100');
});

test('refused: a wrong signature, a wrong access key, an unknown API key, unknown events', async () => {
  const badSig = await dashboard('GET', '', {}, { signingKey: 'not-the-key' });
  assert.equal(badSig.status, 401);
  assert.equal(badSig.json.error_code, '60087');
  const wrongAccess = await call(t.of.server, 'GET', `/dashboard/json/application/webhooks?app_api_key=${t.apiKey}&access_key=nope`, {});
  assert.equal(wrongAccess.json.error_code, '60072');
  const wrongApp = await dashboard('GET', '', {}, { apiKey: 'x'.repeat(32) });
  assert.equal(wrongApp.json.error_code, '60001');
  const badEvents = await dashboard('POST', '', { name: 'x', url: receiver.url, events: ['user_added', 'made_up'] });
  assert.equal(badEvents.status, 400);
  assert.equal(badEvents.json.error_code, '60098');
  const badUrl = await dashboard('POST', '', { name: 'x', url: 'ftp://example.com', events: ['user_added'] });
  assert.equal(badUrl.json.error_code, '60098');
  // The signature covers the parameters: a changed URL no longer matches.
  const nonce = freshNonce();
  const sig = authySignature(keys.signingKey, nonce, 'POST', URL_BASE, { app_api_key: t.apiKey, access_key: keys.accessKey, name: 'x', url: receiver.url, 'events': ['user_added'] });
  const forged = await call(t.of.server, 'POST', '/dashboard/json/application/webhooks', {
    form: `app_api_key=${t.apiKey}&access_key=${encodeURIComponent(keys.accessKey)}&name=x&url=${encodeURIComponent('https://evil.example/')}&events[]=user_added`,
    headers: { 'x-authy-signature-nonce': nonce, 'x-authy-signature': sig },
  });
  assert.equal(forged.json.error_code, '60087');
});

test('events arrive as JWTs signed with the webhook key: user added and removed, device registered, request answered', async () => {
  const created = await dashboard('POST', '', {
    name: 'all',
    url: receiver.url,
    events: ['user_added', 'user_removed', 'device_registration_completed', 'one_touch_request_responded'],
  });
  const key = new TextEncoder().encode(created.json.webhook.signing_key);
  const id = await createUser(t, 'hooked@example.com', PHONES.us[0]);
  const device = await registerDevice(t, base, id);
  const r = await createApproval(t, id, { message: 'hooked' });
  const shown = (await device.pendingApprovals()).find((a) => a.uuid === r.json.approval_request.uuid)!;
  await device.approve(shown);
  await call(t.of.server, 'POST', `/protected/json/users/${id}/remove`, { key: t.apiKey });

  await until('four events', () => receiver.requests.length >= 4, 8000);
  const events = [];
  for (const req of receiver.requests) {
    assert.equal(req.headers['content-type'], 'application/jwt');
    const { payload } = await jwtVerify(req.body, key, { algorithms: ['HS256'] });
    events.push(payload as any);
  }
  assert.deepEqual(events.map((e) => e.event).sort(), ['device_registration_completed', 'one_touch_request_responded', 'user_added', 'user_removed']);
  const responded = events.find((e) => e.event === 'one_touch_request_responded');
  assert.equal(responded.objects.onetouch_request.s_status, 'approved');
  assert.equal(responded.objects.onetouch_request.s_uuid, shown.uuid);
  assert.equal(responded.objects.user.s_authy_id, String(id));
  assert.equal(responded.objects.app.s_id, String(t.appId));
  assert.equal(responded.webhook_id, created.json.webhook.id);
  await assert.rejects(jwtVerify(receiver.requests[0].body, new TextEncoder().encode('wrong-key'), { algorithms: ['HS256'] }));
});

test("application B's keys cannot list or delete A's webhooks", async () => {
  const mine = await dashboard('POST', '', { name: 'mine', url: receiver.url, events: ['user_added'] });
  const other = await t.newApplication('Other');
  const otherKeys = (await t.of.services.applications.rotateDashboardKeys(other.id))!;
  const saved = keys;
  keys = otherKeys;
  try {
    const list = await dashboard('GET', '', {}, { apiKey: other.apiKey });
    assert.deepEqual(list.json.webhooks, []);
    const del = await dashboard('DELETE', `/${mine.json.webhook.id}`, {}, { apiKey: other.apiKey });
    assert.equal(del.json.error_code, '60100');
  } finally {
    keys = saved;
  }
  assert.ok((await dashboard('GET', '', {})).json.webhooks.some((w: { id: string }) => w.id === mine.json.webhook.id));
});

test('token events: a code sent, a wrong token, a right token', async () => {
  const created = await dashboard('POST', '', { name: 'tokens', url: receiver.url, events: ['totp_token_sent', 'token_invalid', 'token_verified'] });
  const key = new TextEncoder().encode(created.json.webhook.signing_key);
  const id = await createUser(t, 'tokens@example.com', PHONES.us[1]);
  const from = receiver.requests.length;
  await call(t.of.server, 'GET', `/protected/json/sms/${id}?force=true`, { key: t.apiKey });
  const text = (await delivered(t, '+14155550143')).text;
  const code = codeIn(text, 7);
  const wrong = code === '0000000' ? '1111111' : '0000000';
  await call(t.of.server, 'GET', `/protected/json/verify/${wrong}/${id}?force=true`, { key: t.apiKey });
  await call(t.of.server, 'GET', `/protected/json/verify/${code}/${id}?force=true`, { key: t.apiKey });
  const mine = async () => {
    const out = [];
    for (const r of receiver.requests.slice(from)) {
      const { payload } = await jwtVerify(r.body, key, { algorithms: ['HS256'] }).catch(() => ({ payload: undefined }));
      if (payload && (payload as any).webhook_id === created.json.webhook.id) out.push(payload as any);
    }
    return out;
  };
  await until('three token events', async () => (await mine()).length >= 3, 8000);
  const events = await mine();
  const by = (name: string) => events.find((e) => e.event === name);
  assert.deepEqual(events.map((e) => e.event).sort(), ['token_invalid', 'token_verified', 'totp_token_sent']);
  assert.equal(by('totp_token_sent').objects.message.s_channel, 'sms');
  assert.equal(by('token_invalid').objects.token.b_reused, false);
  assert.equal(by('token_verified').objects.token.s_factor, 'sms');
  assert.equal(by('token_verified').objects.user.s_authy_id, String(id));
});

const REPLAYED = { message: 'Invalid signature: this nonce was already used', success: false, errors: { message: 'Invalid signature: this nonce was already used' }, error_code: '60087' };

test('a captured call cannot be replayed: the same nonce and signature are refused the second time', async () => {
  const list = signed('GET', '', {});
  assert.equal((await list(t.of.server)).status, 200);
  const again = await list(t.of.server);
  assert.equal(again.status, 401);
  assert.deepEqual(again.json, REPLAYED);

  // A replayed create makes nothing.
  const before = (await dashboard('GET', '', {})).json.webhooks.length;
  const create = signed('POST', '', { name: 'once', url: receiver.url, events: ['user_added'] });
  assert.equal((await create(t.of.server)).status, 200);
  assert.equal((await create(t.of.server)).json.error_code, '60087');
  assert.equal((await dashboard('GET', '', {})).json.webhooks.length, before + 1);

  // A time with microseconds, a little ahead of the server's clock (a client's clock runs fast):
  // served once, then refused, on either database.
  const ahead = signed('GET', '', {}, { nonce: `${((Date.now() + 2000) / 1000).toFixed(3)}417` });
  const first = await ahead(t.of.server);
  assert.equal(first.status, 200, first.text);
  assert.deepEqual((await ahead(t.of.server)).json, REPLAYED);

  // Nonces that are not times (GUIDs, random numbers) are single-use too, per application.
  const guid = signed('GET', '', {}, { nonce: '5b7e0c1d-6f2a-4c3b-9e8d-7a6b5c4d3e2f' });
  assert.equal((await guid(t.of.server)).status, 200);
  assert.deepEqual((await guid(t.of.server)).json, REPLAYED);

  // Sent ten times at once, exactly one is served.
  const burst = signed('GET', '', {});
  const statuses = (await Promise.all(Array.from({ length: 10 }, () => burst(t.of.server)))).map((r) => r.status);
  assert.deepEqual(statuses.sort(), [200, ...Array(9).fill(401)]);
});

test('a time nonce outside the window (past or future) is refused; a forged one still gets the plain signature error', async () => {
  const day = 86_400;
  for (const at of [Date.now() / 1000 - day - 120, Date.now() / 1000 + day + 120]) {
    const r = await dashboard('GET', '', {}, { nonce: at.toFixed(6) });
    assert.equal(r.status, 401);
    assert.deepEqual(r.json, { message: 'Invalid signature: the nonce is a time outside the accepted window', success: false, errors: { message: 'Invalid signature: the nonce is a time outside the accepted window' }, error_code: '60087' });
  }
  assert.equal((await dashboard('GET', '', {}, { nonce: (Date.now() / 1000 - day + 600).toFixed(6) })).status, 200, 'within the window');
  const forged = await dashboard('GET', '', {}, { signingKey: 'not-the-key', nonce: (Date.now() / 1000).toFixed(6) });
  assert.equal(forged.json.message, 'Invalid signature');
});

test('a call served by one server is refused by another on the same database', async () => {
  const store = openStore(t.config.databaseUrl);
  const other = await buildServer({ ...t.config, outboxWorker: false }, store);
  try {
    const list = signed('GET', '', {});
    assert.equal((await list(t.of.server)).status, 200);
    assert.deepEqual((await list(other.server)).json, REPLAYED);
    // And the other way round.
    const create = signed('POST', '', { name: 'there', url: receiver.url, events: ['user_added'] });
    assert.equal((await create(other.server)).status, 200);
    assert.deepEqual((await create(t.of.server)).json, REPLAYED);
  } finally {
    await other.close();
    await store.close();
  }
});

test('remembered nonces are dropped by retention once expired', async () => {
  await dashboard('GET', '', {});
  const count = async () => Number((await t.store.db.selectFrom('dashboard_nonces').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  assert.ok((await count()) > 0);
  const swept = await t.of.services.retention.sweep(Date.now() + 2 * 86_400_000 + 60_000);
  assert.ok(swept.dashboard_nonces > 0);
  assert.equal(await count(), 0);
});
