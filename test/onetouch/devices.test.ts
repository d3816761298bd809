// Device registration and the signed device API: by registration token (SDK flow) and by
// phone (authenticator flow, token sync per application), accounts and offline codes that
// verify, user status from real devices, the 'ignored' upgrade, refused signatures, unregister.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PHONES, startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { codeIn, createUser, delivered, verifyUrl } from '../support/tokens.ts';
import { registerDevice } from '../support/onetouch.ts';
import { OpenFactorDevice, OpenFactorError, type FetchLike } from '../../sdk/device/src/index.ts';

let t: TestApp;
let base: string;
before(async () => {
  t = await startApp();
  base = await t.listen();
});
after(() => t.close());

const status = async (id: number, key = t.apiKey) => (await call(t.of.server, 'GET', `/protected/json/users/${id}/status`, { key })).json.status;
const errorCode = (code: string) => (e: unknown) => e instanceof OpenFactorError && e.code === code;

test('SDK flow: a registration token, then the device holds the account; its offline code verifies', async () => {
  const id = await createUser(t, 'sdk@example.com', PHONES.us[0]);
  const es = await registerDevice(t, base, id, { algorithm: 'ES256' });
  const ed = await registerDevice(t, base, id, { algorithm: 'Ed25519' });
  for (const device of [es, ed]) {
    assert.deepEqual(device.accounts.map((a) => [a.authy_id, a.app_id, a.app_name, a.digits, a.period, a.algorithm]), [[id, t.appId, 'Test Bank', 7, 30, 'SHA1']]);
  }
  // Both devices show the user's one token; it verifies once (replay rejection holds across devices).
  const now = Date.now();
  const code = await es.code(id, undefined, now);
  assert.equal(await ed.code(id, undefined, now), code);
  const v = await call(t.of.server, 'GET', verifyUrl(code, id), { key: t.apiKey });
  assert.equal(v.status, 200, v.text);
  assert.equal(v.json.token, 'is valid');
  assert.equal(v.json.device.os_type, 'android');
  assert.equal(v.json.device.registration_method, 'sdk');
  const again = await call(t.of.server, 'GET', verifyUrl(code, id), { key: t.apiKey });
  assert.equal(again.json.error_code, '60019');
  const s = await status(id);
  assert.equal(s.registered, true);
  assert.deepEqual(s.devices, ['android']);
  assert.equal(s.detailed_devices.length, 2);
  // Authy's fields in Authy's order, plus device_name (OpenFactor: the name the device gave itself).
  assert.deepEqual(Object.keys(s.detailed_devices[0]), ['device_type', 'os_type', 'registration_device_id', 'registration_method', 'device_id', 'device_name', 'last_sync_date', 'creation_date']);
  assert.equal(s.detailed_devices[0].registration_method, 'sdk');
});

test('registration tokens: single use, expire, belong to an existing user of the calling application', async () => {
  const id = await createUser(t, 'token@example.com', PHONES.us[1]);
  const r = await call(t.of.server, 'POST', '/protected/json/sdk/registrations', { key: t.apiKey, keyIn: 'form', form: `authy_id=${id}` });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.json), ['registration_token', 'success', 'message']);
  const token = r.json.registration_token;
  await OpenFactorDevice.registerWithToken(base, token);
  await assert.rejects(OpenFactorDevice.registerWithToken(base, token), errorCode('60035'));

  const old = await call(t.of.server, 'POST', '/protected/json/sdk/registrations', { key: t.apiKey, json: { authy_id: id } });
  await t.store.db.updateTable('registration_tokens').set({ expires_at: Date.now() - 1 }).where('used_at', 'is', null).execute();
  await assert.rejects(OpenFactorDevice.registerWithToken(base, old.json.registration_token), errorCode('60037'));
  await assert.rejects(OpenFactorDevice.registerWithToken(base, 'made-up-token'), errorCode('60035'));

  const unknown = await call(t.of.server, 'POST', '/protected/json/sdk/registrations', { key: t.apiKey, form: 'authy_id=987654' });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.error_code, '60026');
  const other = await t.newApplication('Elsewhere');
  const foreign = await call(t.of.server, 'POST', '/protected/json/sdk/registrations', { key: other.apiKey, form: `authy_id=${id}` });
  assert.equal(foreign.json.error_code, '60026');

  // A malformed public key is refused before the token is spent.
  const fresh = await call(t.of.server, 'POST', '/protected/json/sdk/registrations', { key: t.apiKey, form: `authy_id=${id}` });
  const bad = await fetch(`${base}/device/v1/registrations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ registration_token: fresh.json.registration_token, public_key: 'AAAA', algorithm: 'ES256' }) });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error_code, '60034');
  await OpenFactorDevice.registerWithToken(base, fresh.json.registration_token);
});

test("python's registrations/status: pending until a device registers, then completed", async () => {
  const id = await createUser(t, 'py@example.com', PHONES.us[2]);
  const before = await call(t.of.server, 'GET', `/protected/json/registrations/status?custom_user_id=${id}`, { key: t.apiKey });
  assert.deepEqual(before.json, { status: 'pending', message: 'Registration status.', success: true });
  await registerDevice(t, base, id);
  const after = await call(t.of.server, 'GET', `/protected/json/registrations/status?custom_user_id=${id}`, { key: t.apiKey });
  assert.equal(after.json.status, 'completed');
  const unknown = await call(t.of.server, 'GET', '/protected/json/registrations/status?custom_user_id=nobody', { key: t.apiKey });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.error_code, '60035');
});

test("a registered device makes sms and call 'ignored' unless forced", async () => {
  const id = await createUser(t, 'ignored@example.com', PHONES.us[3]);
  await registerDevice(t, base, id, { osType: 'ios' });
  const sms = await call(t.of.server, 'GET', `/protected/json/sms/${id}`, { key: t.apiKey });
  assert.equal(sms.json.ignored, true);
  assert.equal(sms.json.device, 'ios');
  const forced = await call(t.of.server, 'GET', `/protected/json/sms/${id}?force=true`, { key: t.apiKey });
  assert.equal(forced.json.message, 'SMS token was sent');
});

test('signed calls: a replayed, tampered, stale or unsigned request is refused with 401/60087', async () => {
  const id = await createUser(t, 'sig@example.com', PHONES.us[4]);
  const sent: { url: string; init: RequestInit }[] = [];
  let tamper = false;
  const recording: FetchLike = (url, init) => {
    sent.push({ url, init });
    // A body changed on the way (after the device signed it).
    if (tamper && init.body) {
      const text = new TextDecoder().decode(init.body as Uint8Array).replace('push.example', 'evil.example');
      return fetch(url, { ...init, body: text });
    }
    return fetch(url, init);
  };
  const r = await call(t.of.server, 'POST', '/protected/json/sdk/registrations', { key: t.apiKey, form: `authy_id=${id}` });
  const device = await OpenFactorDevice.registerWithToken(base, r.json.registration_token, { fetch: recording });
  await device.refreshAccounts();
  const last = sent.at(-1)!;
  const replay = await fetch(last.url, last.init);
  assert.equal(replay.status, 401);
  assert.equal((await replay.json()).error_code, '60087');

  const headers = new Headers(last.init.headers);
  const stale = new Headers(headers);
  stale.set('x-openfactor-timestamp', String(Math.floor(Date.now() / 1000) - 3600));
  stale.set('x-openfactor-nonce', 'a-fresh-nonce-1234567');
  assert.equal((await fetch(last.url, { ...last.init, headers: stale })).status, 401);

  const otherPath = await fetch(`${base}/device/v1/approval_requests`, { method: 'GET', headers: (() => { const h = new Headers(headers); h.set('x-openfactor-nonce', 'another-fresh-nonce-12'); return h; })() });
  assert.equal(otherPath.status, 401, 'a signature is bound to its path');

  assert.equal((await fetch(`${base}/device/v1/accounts`)).status, 401);
  tamper = true;
  const sub = { endpoint: 'https://push.example/send/abc', keys: { p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM', auth: 'tBHItJI5svbpez7KI4CCXg' } };
  await assert.rejects(device.setPushSubscription(sub), errorCode('60087'));
  tamper = false;
  const row = await t.store.db.selectFrom('device_keys').select('push_subscription_sealed').where('id', '=', device.id).executeTakeFirstOrThrow();
  assert.equal(row.push_subscription_sealed, null);
  // The device itself keeps working.
  assert.equal((await device.refreshAccounts()).length, 1);
  await device.setPushSubscription(sub);
});

test('unregister: the device stops working and shows in deleted_devices', async () => {
  const id = await createUser(t, 'gone@example.com', PHONES.us[5]);
  const device = await registerDevice(t, base, id);
  assert.equal((await status(id)).registered, true);
  await device.unregister();
  const s = await status(id);
  assert.equal(s.registered, false);
  assert.deepEqual(s.devices, []);
  assert.equal(s.deleted_devices.length, 1);
  const r = await call(t.of.server, 'POST', '/protected/json/sdk/registrations', { key: t.apiKey, form: `authy_id=${id}` });
  const again = await OpenFactorDevice.registerWithToken(base, r.json.registration_token);
  assert.equal((await status(id)).registered, true);
  assert.notEqual(again.id, device.id);
});

test('by phone: a code by SMS; the device gets every account of that phone in applications that sync tokens', async () => {
  const syncing = await t.newApplication('Sync Co');
  const closed = await t.newApplication('No Sync Co');
  await t.of.services.applications.updateSettings(closed.id, { syncTokens: false });
  const number = '415-555-0177';
  const inMain = await createUser(t, 'p1@example.com', number);
  const inSync = await createUser(t, 'p2@example.com', number, '1', syncing.apiKey);
  await createUser(t, 'p3@example.com', number, '1', closed.apiKey);

  const start = await OpenFactorDevice.startPhoneRegistration(base, { countryCode: '1', phoneNumber: number, via: 'sms' });
  assert.equal(start.secondsToExpire, 600);
  const msg = await delivered(t, '+14155550177');
  const code = codeIn(msg.text, 6);
  const wrong = code === '000000' ? '111111' : '000000';
  await assert.rejects(OpenFactorDevice.confirmPhoneRegistration(base, start.registrationId, wrong), errorCode('60036'));
  const device = await OpenFactorDevice.confirmPhoneRegistration(base, start.registrationId, code, { algorithm: 'Ed25519', osType: 'ios' });
  assert.deepEqual(device.accounts.map((a) => [a.authy_id, a.app_name]).sort(), [[inMain, 'Test Bank'], [inSync, 'Sync Co']].sort());
  // The code is used up.
  await assert.rejects(OpenFactorDevice.confirmPhoneRegistration(base, start.registrationId, code), errorCode('60035'));

  // A user added later with that phone syncs to the device.
  const another = await t.newApplication('Later Co');
  const later = await createUser(t, 'p4@example.com', number, '1', another.apiKey);
  assert.ok((await device.refreshAccounts()).some((a) => a.authy_id === later));
  const s = await status(inMain);
  assert.equal(s.registered, true);
  assert.equal(s.detailed_devices[0].registration_method, 'sms');
});

test('by phone: an unknown phone gets the same answers and no message; five wrong codes end the registration', async () => {
  const before = (await t.of.services.outbox.recent({ limit: 500 })).length;
  const unknown = await OpenFactorDevice.startPhoneRegistration(base, { countryCode: '1', phoneNumber: '415-555-0166', via: 'sms' });
  assert.match(unknown.registrationId, /^[0-9a-f-]{36}$/);
  assert.equal((await t.of.services.outbox.recent({ limit: 500 })).length, before);
  // As for a registered number with a wrong code (test/onetouch/phone-registration-abuse.test.ts).
  await assert.rejects(OpenFactorDevice.confirmPhoneRegistration(base, unknown.registrationId, '123456'), errorCode('60036'));

  await createUser(t, 'p5@example.com', '415-555-0155');
  const start = await OpenFactorDevice.startPhoneRegistration(base, { countryCode: '1', phoneNumber: '415-555-0155', via: 'voice' });
  await delivered(t, '+14155550155');
  for (let i = 0; i < 5; i++) await assert.rejects(OpenFactorDevice.confirmPhoneRegistration(base, start.registrationId, '99999' + i), errorCode('60036'));
  await assert.rejects(OpenFactorDevice.confirmPhoneRegistration(base, start.registrationId, '123456'), errorCode('60035'));

  await assert.rejects(OpenFactorDevice.startPhoneRegistration(base, { countryCode: '1', phoneNumber: '12', via: 'sms' }), errorCode('60033'));
});
