// Phone verification (start, check, status) and phone information on the Authy wire: exact
// bodies, the same code on a second start, five checks then dead, settings that gate custom
// messages and codes, and the errors clients expect.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { codeIn, delivered, spokenCode } from '../support/tokens.ts';

let t: TestApp;
before(async () => {
  t = await startApp();
});
after(() => t.close());

const start = (form: string, key = t.apiKey) => call(t.of.server, 'POST', '/protected/json/phones/verification/start', { key, form });
const check = (form: string) => call(t.of.server, 'GET', '/protected/json/phones/verification/check', { key: t.apiKey, form });
const status = (query: string) => call(t.of.server, 'GET', `/protected/json/phones/verification/status?${query}`, { key: t.apiKey });

test('start by SMS: the documented body; the code arrives; a second start resends the same code', async () => {
  const r = await start('via=sms&phone_number=415-555-0101&country_code=1');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json), ['carrier', 'is_cellphone', 'is_ported', 'message', 'seconds_to_expire', 'uuid', 'success']);
  assert.equal(r.json.message, 'Text message sent to +1 415-555-0101.');
  assert.equal(r.json.carrier, '', 'libphonenumber has no carrier data for North American ranges');
  assert.equal(r.json.is_cellphone, true);
  assert.equal(r.json.is_ported, false);
  assert.ok(r.json.seconds_to_expire >= 598 && r.json.seconds_to_expire <= 599);
  assert.match(r.json.uuid, /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/);
  const first = await delivered(t, '+14155550101');
  const code = codeIn(first.text, 4);
  assert.match(first.text, /Test Bank/);

  const again = await start('via=sms&phone_number=4155550101&country_code=1');
  assert.equal(again.json.uuid, r.json.uuid);
  assert.equal(codeIn((await delivered(t, '+14155550101', first.id)).text, 4), code, 'the same code');

  assert.deepEqual((await status('phone_number=415-555-0101&country_code=1')).json.status, 'pending');
  const ok = await check(`phone_number=415-555-0101&country_code=1&verification_code=${code}`);
  assert.equal(ok.status, 200);
  assert.equal(ok.text, '{"message":"Verification code is correct.","success":true}');
  const st = await status('phone_number=415-555-0101&country_code=1');
  assert.deepEqual(st.json, { status: 'verified', seconds_to_expire: 0, success: true, message: 'Phone verification status.' });
  // Verified codes do not verify twice.
  const replay = await check(`phone_number=415-555-0101&country_code=1&verification_code=${code}`);
  assert.equal(replay.status, 404);
  assert.equal(replay.json.error_code, '60023');
});

test('start by call with code_length and locale: the code is read out; the message names the call', async () => {
  const r = await start('via=call&phone_number=912345678&country_code=351&code_length=6&locale=pt');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.message, 'Call to +351 912-345-678 initiated');
  const msg = await delivered(t, '+351912345678');
  assert.equal(msg.channel, 'voice');
  assert.equal(msg.locale, 'pt');
  const code = spokenCode(msg.text, 6);
  assert.equal((await check(`phone_number=912345678&country_code=351&verification_code=${code}`)).status, 200);
});

test('check: wrong → 401/60022; five checks, then the verification is dead (404/60023); nothing pending → 404', async () => {
  await start('phone_number=415-555-0102&country_code=1');
  const code = codeIn((await delivered(t, '+14155550102')).text, 4);
  const wrong = code === '0000' ? '1111' : '0000';
  for (let i = 0; i < 4; i++) {
    const r = await check(`phone_number=415-555-0102&country_code=1&verification_code=${wrong}`);
    assert.equal(r.status, 401);
    assert.equal(r.text, '{"message":"Verification code is incorrect","success":false,"errors":{"message":"Verification code is incorrect"},"error_code":"60022"}');
  }
  assert.equal((await check(`phone_number=415-555-0102&country_code=1&verification_code=${wrong}`)).status, 401);
  const dead = await check(`phone_number=415-555-0102&country_code=1&verification_code=${code}`);
  assert.equal(dead.status, 404, 'the right code after five checks');
  assert.equal(dead.text, '{"message":"No pending verifications for +1 415-555-0102 found.","success":false,"errors":{"message":"No pending verifications for +1 415-555-0102 found."},"error_code":"60023"}');
  assert.equal((await status('phone_number=415-555-0102&country_code=1')).json.status, 'expired');

  const invalid = await check('phone_number=12&country_code=1&verification_code=1234');
  assert.equal(invalid.status, 400);
  assert.equal(invalid.json.error_code, '60033');
  const none = await check('phone_number=415-555-0199&country_code=1&verification_code=1234');
  assert.equal(none.status, 404);
  assert.equal(none.json.error_code, '60023');
  const unknown = await status('phone_number=415-555-0199&country_code=1');
  assert.equal(unknown.json.error_code, '60023');
});

test('expiry: after ten minutes the code no longer verifies and the status says expired', async () => {
  await start('phone_number=415-555-0103&country_code=1');
  const code = codeIn((await delivered(t, '+14155550103')).text, 4);
  await t.store.db.updateTable('phone_verifications').set({ expires_at: Date.now() - 1 }).where('phone_index', '=', t.of.services.contacts.phoneIndex('+14155550103')).execute();
  assert.equal((await check(`phone_number=415-555-0103&country_code=1&verification_code=${code}`)).json.error_code, '60023');
  assert.equal((await status('phone_number=415-555-0103&country_code=1')).json.status, 'expired');
  // A new start makes a new code.
  const fresh = await start('phone_number=415-555-0103&country_code=1');
  assert.equal(fresh.status, 200);
});

test('parameter errors as Authy words them', async () => {
  const cases: [string, number, string, string?][] = [
    ['phone_number=415-555-0104', 400, '60004', 'Invalid parameter: country_code - Parameter is required'],
    ['country_code=1', 400, '60004', 'Invalid parameter: phone_number - Parameter is required'],
    ['phone_number=415-555-0104&country_code=xxx', 400, '60004', "Invalid parameter: country_code - 'xxx' is not a valid Integer"],
    ['phone_number=12&country_code=1', 400, '60033', 'Phone number is invalid'],
    ['phone_number=415-555-0104&country_code=1&via=fax', 400, '60004'],
    ['phone_number=415-555-0104&country_code=1&code_length=3', 400, '60004'],
    ['phone_number=415-555-0104&country_code=1&code_length=11', 400, '60004'],
    ['phone_number=2079460018&country_code=44&via=sms', 400, '60082'],
    ['phone_number=900-555-0142&country_code=1', 400, '60083'],
    ['phone_number=800-555-0142&country_code=1', 400, '60083'],
  ];
  for (const [form, code, errorCode, message] of cases) {
    const r = await start(form);
    assert.equal(r.status, code, form);
    assert.equal(r.json.error_code, errorCode, form);
    if (message) assert.equal(r.json.message, message, form);
  }
  // A landline can be called.
  assert.equal((await start('phone_number=2079460018&country_code=44&via=call')).status, 200);
});

test('custom_message and custom_code are application settings', async () => {
  const msg = await start('phone_number=415-555-0105&country_code=1&custom_message=Your+code+is+{{code}}');
  assert.equal(msg.status, 400);
  assert.equal(msg.json.error_code, '60091');
  const code = await start('phone_number=415-555-0105&country_code=1&custom_code=8642');
  assert.equal(code.status, 400);
  assert.equal(code.json.message, "Phone verification couldn't be created: custom codes are not allowed.");
  assert.equal(code.json.error_code, '60021');

  await t.of.services.applications.updateSettings(t.appId, { customMessageAllowed: true, customCodeAllowed: true });
  try {
    const r = await start('phone_number=415-555-0105&country_code=1&custom_message=Bank+login+code:+{{code}}&custom_code=8642');
    assert.equal(r.status, 200, r.text);
    assert.equal((await delivered(t, '+14155550105')).text, 'Bank login code: 8642');
    assert.equal((await check('phone_number=415-555-0105&country_code=1&verification_code=8642')).status, 200);
  } finally {
    await t.of.services.applications.updateSettings(t.appId, { customMessageAllowed: false, customCodeAllowed: false });
  }
});

test('phones/info: type from libphonenumber metadata, the timestamped message, errors', async () => {
  const info = async (q: string) => call(t.of.server, 'GET', `/protected/json/phones/info?${q}`, { key: t.apiKey });
  const mobile = await info('phone_number=7400123456&country_code=44');
  assert.equal(mobile.status, 200);
  assert.deepEqual(Object.keys(mobile.json), ['message', 'type', 'provider', 'ported', 'success']);
  assert.match(mobile.json.message, /^Phone number information as of \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/);
  assert.equal(mobile.json.type, 'cellphone');
  assert.equal(mobile.json.provider, 'Three', 'the carrier the +44 7400 range was assigned to');
  assert.equal(mobile.json.ported, false);
  assert.equal((await info('phone_number=912345678&country_code=351')).json.provider, 'Vodafone');
  assert.equal((await info('phone_number=11987654321&country_code=55')).json.provider, 'TIM');
  assert.equal((await info('phone_number=2079460018&country_code=44')).json.provider, '', 'a landline has no carrier');
  assert.equal((await info('phone_number=2079460018&country_code=44')).json.type, 'landline');
  assert.equal((await info('phone_number=900-555-0142&country_code=1')).json.type, 'premium_rate');
  assert.equal((await info('phone_number=800-555-0142&country_code=1')).json.type, 'toll_free');
  const bad = await info('phone_number=12&country_code=1');
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error_code, '60033');
});

test('start names the carrier of the number\'s range (libphonenumber carrier data)', async () => {
  const pt = await start('via=sms&phone_number=912 345 678&country_code=351');
  assert.equal(pt.status, 200, pt.text);
  assert.equal(pt.json.carrier, 'Vodafone');
  assert.equal(pt.json.is_cellphone, true);
  const de = await start('via=call&phone_number=151 1234 5678&country_code=49');
  assert.equal(de.status, 200, de.text);
  assert.equal(de.json.carrier, 'T-Mobile');
});

test('application B cannot check or see A\'s verifications', async () => {
  const other = await t.newApplication('Other');
  await start('phone_number=415-555-0106&country_code=1');
  const code = codeIn((await delivered(t, '+14155550106')).text, 4);
  const theirs = await call(t.of.server, 'GET', '/protected/json/phones/verification/check', { key: other.apiKey, form: `phone_number=415-555-0106&country_code=1&verification_code=${code}` });
  assert.equal(theirs.status, 404);
  assert.equal((await check(`phone_number=415-555-0106&country_code=1&verification_code=${code}`)).status, 200);
});

test('check and status find the verification in any form of the number; an invalid number is 60033 first', async () => {
  // Started in national form with the trunk prefix: stored as +447400123456.
  assert.equal((await start('via=sms&phone_number=07400 123456&country_code=44')).status, 200);
  const code = codeIn((await delivered(t, '+447400123456')).text, 4);
  const wrong = code === '0000' ? '1111' : '0000';
  // National digits (looked up as +44 and the digits), the trunk prefix, +44 itself, separators.
  for (const form of ['7400123456', '07400 123456', '+447400123456', '7400-123-456', '(7400) 123.456']) {
    const st = await status(`phone_number=${encodeURIComponent(form)}&country_code=44`);
    assert.equal(st.json.status, 'pending', form);
  }
  const miss = await check(`phone_number=7400123456&country_code=%2B44&verification_code=${wrong}`);
  assert.equal(miss.status, 401, miss.text);
  assert.equal((await check(`phone_number=07400123456&country_code=44&verification_code=${wrong}`)).status, 401);
  // A valid number with no verification, in the form the fast lookup reads: 404, its number shown.
  const none = await check('phone_number=7400123457&country_code=44&verification_code=1234');
  assert.equal(none.status, 404);
  assert.equal(none.json.message, 'No pending verifications for +44 7400-123457 found.');
  assert.equal((await status('phone_number=7400123457&country_code=44')).json.error_code, '60023');
  // An invalid number: 60033, before a missing code is noticed, as before.
  for (const form of ['phone_number=12&country_code=44&verification_code=1234', 'phone_number=12&country_code=44', 'phone_number=99999&country_code=1']) {
    const r = await check(form);
    assert.equal(r.status, 400, form);
    assert.equal(r.json.error_code, '60033', form);
  }
  const noCode = await check('phone_number=7400123456&country_code=44');
  assert.equal(noCode.status, 400);
  assert.notEqual(noCode.json.error_code, '60033');
  const ok = await check(`phone_number=7400 123 456&country_code=44&verification_code=${code}`);
  assert.equal(ok.status, 200, ok.text);
  assert.equal((await status('phone_number=07400123456&country_code=44')).json.status, 'verified');
});
