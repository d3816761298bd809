// Sending codes: sms/{id} and call/{id} as an application calls them, and what the user receives.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { addDevice, codeIn, createUser, delivered, spokenCode, verifyUrl } from '../support/tokens.ts';
import { LOCALES } from '../../src/core/i18n.ts';

let t: TestApp;
before(async () => {
  t = await startApp();
  // Many sends per user in this file; the cap itself has its own test file.
  // Every locale's SMS and call go to the same few numbers: the send limits make room.
  await t.of.services.applications.updateSettings(t.appId, { sendsPerHour: 1000, sendsPerNumberHour: 1000, sendsPerNumberDay: 1000, prefixSendsPerWindow: 1000 });
});
after(() => t.close());

const get = (url: string, key = t.apiKey) => call(t.of.server, 'GET', url, { key });

test('sms: exact body with the masked cellphone, and the user gets a 7-digit code naming the app', async () => {
  const id = await createUser(t, 'sms@example.com', '415-555-0142');
  const r = await get(`/protected/json/sms/${id}`);
  assert.equal(r.status, 200);
  assert.equal(r.text, '{"success":true,"message":"SMS token was sent","cellphone":"+1-XXX-XXX-XX42"}');
  const m = await delivered(t, '+14155550142');
  assert.equal(m.channel, 'sms');
  assert.equal(m.locale, 'en');
  assert.match(m.text, /Test Bank/);
  const code = codeIn(m.text, 7);
  const v = await get(verifyUrl(code, id, '?force=true'));
  assert.equal(v.status, 200, v.text);
  assert.equal(v.json.token, 'is valid');
});

test('sms: the locale follows the phone country when absent, the parameter when given, English when unknown', async () => {
  const fr = await createUser(t, 'fr@example.com', '06 12 34 56 78', '33');
  await get(`/protected/json/sms/${fr}`);
  const m1 = await delivered(t, '+33612345678');
  assert.equal(m1.locale, 'fr');
  await get(`/protected/json/sms/${fr}?locale=de`);
  const m2 = await delivered(t, '+33612345678', m1.id);
  assert.equal(m2.locale, 'de');
  await get(`/protected/json/sms/${fr}?locale=xx-YY`);
  const m3 = await delivered(t, '+33612345678', m2.id);
  assert.equal(m3.locale, 'en', 'an unknown locale is English');
  await get(`/protected/json/sms/${fr}?locale=PT-br`);
  const m4 = await delivered(t, '+33612345678', m3.id);
  assert.equal(m4.locale, 'pt-BR', 'matched case-insensitively');
  await get(`/protected/json/sms/${fr}?locale=es-MX`);
  assert.equal((await delivered(t, '+33612345678', m4.id)).locale, 'es', 'an unsupported region falls back to the language');
});

test('sms and call: all 35 locales produce a message with the app name and the code', async () => {
  // One user per locale, each in its own number prefix: 70 unverified codes to one prefix would
  // be SMS pumping to the defence once a 10-minute window turns during the test (it did once).
  for (const [i, locale] of LOCALES.entries()) {
    const national = `312-${555 + i}-0120`;
    const id = await createUser(t, `polyglot${i}@example.com`, national);
    let last: string | undefined;
    for (const channel of ['sms', 'call'] as const) {
      const r = await get(`/protected/json/${channel}/${id}?locale=${encodeURIComponent(locale)}&force=true`);
      assert.equal(r.status, 200, `${channel} ${locale}: ${r.text}`);
      const m = await delivered(t, `+1${national.replace(/-/g, '')}`, last);
      last = m.id;
      assert.equal(m.locale, locale);
      assert.ok(m.text.includes('Test Bank'), `${channel} ${locale}: ${m.text}`);
      const code = channel === 'sms' ? codeIn(m.text, 7) : spokenCode(m.text, 7);
      assert.match(code, /^\d{7}$/);
    }
  }
});

test('call: exact body; the voice text reads the code digit by digit and the code verifies', async () => {
  const id = await createUser(t, 'voice@example.com', '202-555-0111');
  const r = await get(`/protected/json/call/${id}`);
  assert.equal(r.status, 200);
  assert.equal(r.text, '{"success":true,"message":"Call started...","cellphone":"+1-XXX-XXX-XX11"}');
  const m = await delivered(t, '+12025550111');
  assert.equal(m.channel, 'voice');
  assert.doesNotMatch(m.text, /\d{2}/, 'no two digits run together: each is read on its own');
  const code = spokenCode(m.text, 7);
  const v = await get(verifyUrl(code, id, '?force=true'));
  assert.equal(v.json.token, 'is valid', v.text);
  assert.equal(v.json.device.os_type, 'sms');
});

test('a user with an authenticator device gets the ignored upgrade unless force; never "ignored":false', async () => {
  const id = await createUser(t, 'app-user@example.com', '646-555-0133');
  await addDevice(t, id, 'android');
  const sms = await get(`/protected/json/sms/${id}`);
  assert.equal(
    sms.text,
    '{"success":true,"message":"Ignored: SMS is not needed for smartphones. Pass force=true if you want to actually send it anyway.","cellphone":"+1-XXX-XXX-XX33","device":"android","ignored":true}',
  );
  const voice = await get(`/protected/json/call/${id}`);
  assert.equal(
    voice.text,
    '{"success":true,"message":"Call ignored. User is using  App Tokens and this call is not necessary. Pass force=true if you still want to call users that are using the App.","cellphone":"+1-XXX-XXX-XX33","device":"android","ignored":true}',
  );
  assert.equal((await t.of.services.outbox.recent()).filter((m) => m.destination === '+16465550133').length, 0, 'nothing was sent');

  for (const force of ['true', 'True', '1']) {
    const forced = await get(`/protected/json/sms/${id}?force=${force}`);
    assert.equal(forced.text, '{"success":true,"message":"SMS token was sent","cellphone":"+1-XXX-XXX-XX33"}');
  }
  const forcedCall = await get(`/protected/json/call/${id}?force=true`);
  assert.equal(forcedCall.json.message, 'Call started...');
  assert.doesNotMatch(forcedCall.text + sms.text, /"ignored":false/);
});

test('sms with an action is always sent; its code verifies only with that action', async () => {
  const id = await createUser(t, 'action@example.com', '415-555-0177');
  await addDevice(t, id, 'iphone');
  const r = await get(`/protected/json/sms/${id}?action=login&action_message=${encodeURIComponent('Approve the wire of 500 EUR')}`);
  assert.equal(r.text, '{"success":true,"message":"SMS token was sent","cellphone":"+1-XXX-XXX-XX77"}', 'no ignored upgrade with an action');
  const m = await delivered(t, '+14155550177');
  assert.match(m.text, /Approve the wire of 500 EUR/);
  const code = codeIn(m.text, 7);

  const noAction = await get(verifyUrl(code, id, '?force=true'));
  assert.equal(noAction.status, 401);
  const wrongAction = await get(verifyUrl(code, id, '?force=true&action=transfer'));
  assert.equal(wrongAction.status, 401);
  const right = await get(verifyUrl(code, id, '?force=true&action=login'));
  assert.equal(right.status, 200, right.text);
  assert.equal(right.json.token, 'is valid');

  // A plain code does not verify for an action.
  await get(`/protected/json/sms/${id}?force=true`);
  const plain = codeIn((await delivered(t, '+14155550177', m.id)).text, 7);
  assert.equal((await get(verifyUrl(plain, id, '?force=true&action=login'))).status, 401);
  assert.equal((await get(verifyUrl(plain, id, '?force=true'))).status, 200);
});

test('the token length is an application setting (6–8)', async () => {
  const other = await t.newApplication('Eight Digits');
  await t.of.services.applications.updateSettings(other.id, { tokenLength: 8 });
  const id = await createUser(t, 'eight@example.com', '415-555-0188', '1', other.apiKey);
  await get(`/protected/json/sms/${id}`, other.apiKey);
  const m = await delivered(t, '+14155550188');
  const code = codeIn(m.text, 8);
  const v = await get(verifyUrl(code, id, '?force=true'), other.apiKey);
  assert.equal(v.json.token, 'is valid');
  assert.equal(await t.of.services.applications.updateSettings(other.id, { tokenLength: 9 }), 'tokenLength must be an integer from 6 to 8');
});

test('unknown users get 404/60026; disabled add-ons get 503 with Authy texts', async () => {
  for (const path of ['sms/999999', 'call/999999', 'sms/abc']) {
    const r = await get(`/protected/json/${path}`);
    assert.equal(r.status, 404);
    assert.equal(r.json.error_code, '60026');
  }
  const other = await t.newApplication('No Add-ons');
  await t.store.db.updateTable('applications').set({ sms_enabled: 0, calls_enabled: 0 }).where('id', '=', other.id).execute();
  await t.of.services.applications.updateSettings(other.id, { sendsPerHour: 10 });
  const id = await createUser(t, 'noaddon@example.com', '415-555-0199', '1', other.apiKey);
  const sms = await get(`/protected/json/sms/${id}`, other.apiKey);
  assert.equal(sms.status, 503);
  assert.equal(sms.json.error_code, '60007');
  assert.match(sms.json.message, /^The text-message addon is not enabled for this app/);
  const voice = await get(`/protected/json/call/${id}`, other.apiKey);
  assert.equal(voice.status, 503);
  assert.equal(voice.json.error_code, '60006');
});

test('XML: sms answers in Rails XML', async () => {
  const id = await createUser(t, 'xml@example.com', '415-555-0166');
  const r = await get(`/protected/xml/sms/${id}?force=true`);
  assert.equal(r.status, 200);
  assert.match(r.text, /<hash>\s*<success type="boolean">true<\/success>\s*<message>SMS token was sent<\/message>\s*<cellphone>\+1-XXX-XXX-XX66<\/cellphone>\s*<\/hash>/);
});

test('app stats count the SMS and calls actually sent', async () => {
  const other = await t.newApplication('Counting');
  const id = await createUser(t, 'count@example.com', '415-555-0155', '1', other.apiKey);
  await get(`/protected/json/sms/${id}`, other.apiKey);
  await get(`/protected/json/sms/${id}`, other.apiKey);
  await get(`/protected/json/call/${id}`, other.apiKey);
  for (let i = 0; i < 100; i++) {
    if ((await t.of.services.outbox.recent({ appId: other.id })).filter((m) => m.status === 'sent').length === 3) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const stats = await call(t.of.server, 'GET', '/protected/json/app/stats', { key: other.apiKey });
  const month = stats.json.stats.at(-1);
  assert.equal(month.sms_count, 2);
  assert.equal(month.calls_count, 1);
});
