// verify/{token}/{id}: every factor, the exact bodies clients compare, and registration.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { unseal } from '../../src/core/crypto.ts';
import { totpSeedContext } from '../../src/features/users/service.ts';
import { addDevice, appToken, codeIn, createUser, delivered, spokenCode, verifyUrl } from '../support/tokens.ts';
import { qrSecretOf } from '../support/qr.ts';
import { totp } from '../../src/core/otp.ts';

let t: TestApp;
before(async () => {
  t = await startApp();
  await t.of.services.applications.updateSettings(t.appId, { sendsPerHour: 1000, verifyMaxFailures: 1000 });
});
after(() => t.close());

const get = (url: string, key = t.apiKey) => call(t.of.server, 'GET', url, { key });
const INVALID = '{"message":"Token is invalid","token":"is invalid","success":false,"errors":{"message":"Token is invalid"},"error_code":"60020"}';
const NOT_CHECKED =
  'Not checked. User has not yet finished the registration process. Pass force=true to this API to check regardless (more secure).';

test('every user gets a TOTP seed at creation, sealed with the row identity as additional data', async () => {
  const id = await createUser(t, 'seed@example.com', '415-555-0101');
  const row = await t.store.db.selectFrom('users').select('totp_seed_sealed').where('id', '=', id).executeTakeFirstOrThrow();
  assert.match(row.totp_seed_sealed!, /^v2\.[0-9a-f]{8}\.[\w-]+$/);
  assert.equal(unseal(t.config.masterKeys, row.totp_seed_sealed!, totpSeedContext(id)).length, 20);
  // Copied to another user's row it does not open.
  assert.throws(() => unseal(t.config.masterKeys, row.totp_seed_sealed!, totpSeedContext(id + 1)));
  const seeds = await t.store.db.selectFrom('users').select('totp_seed_sealed').execute();
  assert.equal(new Set(seeds.map((s) => s.totp_seed_sealed)).size, seeds.length, 'every user has its own seed');
});

test('a correct app TOTP: the exact valid body, success as the string "true", key order kept', async () => {
  const id = await createUser(t, 'app@example.com', '415-555-0103');
  const r = await get(verifyUrl(await appToken(t, id), id, '?force=true'));
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json), ['message', 'token', 'success', 'device']);
  assert.equal(r.json.message, 'Token is valid.');
  assert.equal(r.json.token, 'is valid');
  assert.equal(r.json.success, 'true');
  assert.deepEqual(Object.keys(r.json.device), [
    'city', 'country', 'ip', 'region', 'registration_city', 'registration_country', 'registration_device_id',
    'registration_ip', 'registration_method', 'registration_region', 'os_type', 'last_account_recovery_at', 'id',
    'registration_date', 'last_sync_date',
  ]);
  assert.ok(Number.isInteger(r.json.device.registration_date));
});

test('with a registered device, verify reports that device', async () => {
  const id = await createUser(t, 'dev@example.com', '415-555-0104');
  const deviceId = await addDevice(t, id, 'android');
  const r = await get(verifyUrl(await appToken(t, id), id));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.device.id, deviceId);
  assert.equal(r.json.device.os_type, 'android');
  assert.equal(r.json.device.city, 'Lisbon');
  assert.equal(r.json.device.registration_device_id, deviceId);
});

test('SMS code: device os_type "sms", id null, registration_date set, other fields null', async () => {
  const id = await createUser(t, 'smsv@example.com', '415-555-0105');
  await get(`/protected/json/sms/${id}`);
  const code = codeIn((await delivered(t, '+14155550105')).text, 7);
  const r = await get(verifyUrl(code, id, '?force=true'));
  assert.equal(r.status, 200, r.text);
  const { os_type, registration_date, ...rest } = r.json.device;
  assert.equal(os_type, 'sms');
  assert.ok(Number.isInteger(registration_date));
  assert.ok(Object.values(rest).every((v) => v === null), JSON.stringify(rest));
});

test('a wrong token: 401 with the exact 60020 body; non-digit and over-long tokens too', async () => {
  const id = await createUser(t, 'wrong@example.com', '415-555-0106');
  for (const token of ['0000000', '123', 'abcdefg', '1234567890123', '%20%20']) {
    const r = await get(verifyUrl(token, id, '?force=true'));
    assert.equal(r.status, 401, token);
    assert.equal(r.text, INVALID, token);
  }
});

test('an unknown user: 401 / 60016 "User doesn\'t exist"', async () => {
  for (const id of ['99999999', 'abc']) {
    const r = await get(`/protected/json/verify/1234567/${id}?force=true`);
    assert.equal(r.status, 401);
    assert.equal(r.json.error_code, '60016');
    assert.equal(r.json.message, "User doesn't exist");
  }
});

test('a user who never verified, no force: each factor\'s right token verifies and completes the registration', async () => {
  const status = async (id: number) => (await get(`/protected/json/users/${id}/status`)).json.status.confirmed;
  const factors: [string, string, (id: number) => Promise<string>][] = [
    ['app token', '0150', (id) => appToken(t, id)],
    ['QR authenticator', '0151', async (id) => totp(await qrSecretOf(t, id), Date.now(), { digits: 6 })],
    ['SMS code', '0152', async (id) => (await get(`/protected/json/sms/${id}`), codeIn((await delivered(t, '+14155550152')).text, 7))],
    ['voice code', '0153', async (id) => (await get(`/protected/json/call/${id}?force=true`), spokenCode((await delivered(t, '+14155550153')).text, 7))],
    ['email code', '0154', async (id) => (await call(t.of.server, 'POST', `/protected/json/email/${id}`, { key: t.apiKey }), codeIn((await delivered(t, 'u0154@example.com')).text, 7))],
  ];
  for (const [factor, last4, tokenOf] of factors) {
    const id = await createUser(t, `u${last4}@example.com`, `415-555-${last4}`);
    assert.equal(await status(id), false, `${factor}: not registered yet`);
    const r = await get(verifyUrl(await tokenOf(id), id));
    assert.equal(r.status, 200, `${factor}: ${r.text}`);
    assert.equal(r.json.token, 'is valid', factor);
    assert.equal(await status(id), true, `${factor}: the registration is complete`);
  }
});

test('a user who never verified, no force: a wrong token is refused (401 / 60020) and counts toward the attempt cap', async () => {
  const app = await t.newApplication('Capped');
  await t.of.services.applications.updateSettings(app.id, { verifyMaxFailures: 3 });
  const id = await createUser(t, 'capped-new@example.com', '415-555-0155', '1', app.apiKey);
  for (let i = 0; i < 3; i++) {
    const wrong = await get(verifyUrl('0000000', id), app.apiKey);
    assert.equal(wrong.status, 401);
    assert.equal(wrong.text, INVALID);
  }
  const right = await get(verifyUrl(await appToken(t, id), id), app.apiKey);
  assert.equal(right.status, 429, 'the cap is reached: even the right token is refused');
  assert.equal(right.json.error_code, '60003');
  assert.equal((await get(`/protected/json/users/${id}/status`, app.apiKey)).json.status.confirmed, false);
});

test('Authy\'s "Not checked" as an application setting: any token without force gets it; nothing is counted; a forced success completes the registration', async () => {
  const app = await t.newApplication('Legacy');
  await t.of.services.applications.updateSettings(app.id, { unregisteredVerifyLegacy: 1, verifyMaxFailures: 2 });
  const id = await createUser(t, 'new@example.com', '415-555-0107', '1', app.apiKey);
  const r = await get(verifyUrl(await appToken(t, id), id), app.apiKey);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { message: NOT_CHECKED, token: NOT_CHECKED });
  for (let i = 0; i < 3; i++) {
    const wrongUnforced = await get(verifyUrl('0000000', id), app.apiKey);
    assert.equal(wrongUnforced.json.token, NOT_CHECKED, 'nothing is checked, so nothing is counted');
  }
  assert.equal((await get(verifyUrl(await appToken(t, id, 7, 1), id, '?force=true'), app.apiKey)).json.token, 'is valid');
  const later = await get(verifyUrl('0000000', id), app.apiKey);
  assert.equal(later.status, 401, 'now registered: tokens are checked without force');
  assert.equal((await get(`/protected/json/users/${id}/status`, app.apiKey)).json.status.confirmed, true);
});

test('an expired SMS code does not verify', async () => {
  const id = await createUser(t, 'expired@example.com', '415-555-0108');
  await get(`/protected/json/sms/${id}`);
  const code = codeIn((await delivered(t, '+14155550108')).text, 7);
  // The validity window (10 minutes by default) has passed for this code.
  await t.store.db.updateTable('sent_codes').set({ expires_at: Date.now() - 1 }).where('user_id', '=', id).execute();
  const r = await get(verifyUrl(code, id, '?force=true'));
  assert.equal(r.status, 401);
  assert.equal(r.json.error_code, '60020');
});

test('codes of one application never verify in another', async () => {
  const other = await t.newApplication('Other');
  const id = await createUser(t, 'iso@example.com', '415-555-0109');
  const r = await get(verifyUrl(await appToken(t, id), id, '?force=true'), other.apiKey);
  assert.equal(r.status, 401);
  assert.equal(r.json.error_code, '60016');
});

test('many verifies at once (one statement each way on PostgreSQL): every answer is its own', async () => {
  const other = await t.newApplication('Other at once');
  const ours = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => createUser(t, `batch${i}@example.com`, `415-555-013${i}`)));
  const theirs = await createUser(t, 'batch-other@example.com', '415-555-0139', '1', other.apiKey);
  const tokens = await Promise.all(ours.map((id) => appToken(t, id)));
  const theirToken = await appToken(t, theirs);
  // All sent in one go: each user's token twice, another application's user with our key, the
  // other application's own verify, and a wrong token.
  const [firsts, seconds, crossed, own, wrong] = await Promise.all([
    Promise.all(ours.map((id, i) => get(verifyUrl(tokens[i], id, '?force=true')))),
    Promise.all(ours.map((id, i) => get(verifyUrl(tokens[i], id, '?force=true')))),
    get(verifyUrl(theirToken, theirs, '?force=true')),
    get(verifyUrl(theirToken, theirs, '?force=true'), other.apiKey),
    get(verifyUrl(tokens[0] === '0000000' ? '1111111' : '0000000', ours[0], '?force=true')),
  ]);
  ours.forEach((_, i) => {
    const statuses = [firsts[i].status, seconds[i].status].sort();
    assert.deepEqual(statuses, [200, 401], `user ${i}: accepted once`);
    const refused = firsts[i].status === 401 ? firsts[i] : seconds[i];
    assert.equal(refused.json.error_code, '60019', `user ${i}: the other is a replay`);
  });
  assert.equal(crossed.status, 401);
  assert.equal(crossed.json.error_code, '60016', "another application's user does not exist for us");
  assert.equal(own.status, 200, own.text);
  assert.equal(own.json.token, 'is valid');
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.error_code, '60020');
});

test('email token: exact body, the code arrives by email and verifies; users/{id}/update changes the address', async () => {
  const id = await createUser(t, 'mail@example.com', '415-555-0110');
  const r = await call(t.of.server, 'POST', `/protected/json/email/${id}`, { key: t.apiKey, form: '' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json), ['success', 'message', 'email', 'email_id']);
  assert.equal(r.json.message, 'Email token was sent');
  assert.equal(r.json.email, 'mail@example.com');
  assert.match(r.json.email_id, /^EM[0-9a-f]{32}$/);
  const m = await delivered(t, 'mail@example.com');
  assert.equal(m.id, r.json.email_id);
  assert.match(m.text, /Test Bank/);
  assert.equal((await get(verifyUrl(codeIn(m.text, 7), id, '?force=true'))).json.token, 'is valid');

  const up = await call(t.of.server, 'POST', `/protected/json/users/${id}/update`, { key: t.apiKey, form: 'email=new%40example.com' });
  assert.equal(up.text, '{"message":"User was updated successfully","success":true}');
  assert.equal((await get(`/protected/json/users/${id}/status`)).json.status.email, 'new@example.com');
  const bad = await call(t.of.server, 'POST', `/protected/json/users/${id}/update`, { key: t.apiKey, form: 'email=nope' });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error_code, '60027');
  assert.equal(bad.json.email, 'is invalid');
  for (const path of ['email/999999', 'users/999999/update']) {
    const nf = await call(t.of.server, 'POST', `/protected/json/${path}`, { key: t.apiKey, form: 'email=a%40b.com' });
    assert.equal(nf.status, 404);
    assert.equal(nf.json.error_code, '60026');
  }
});
