// node-authy (npm `authy`) sending and verifying codes against a real listening OpenFactor.
// node-authy has no call for users/{id}/secret; the QR secret is fetched over HTTP, as the
// application's own code would, and scanned from the PNG.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startApp, type TestApp } from '../support/harness.ts';
import { addDevice, codeIn, delivered, spokenCode } from '../support/tokens.ts';
import { scanSecretOverHttp } from '../support/qr.ts';
import { totp } from '../../src/core/otp.ts';

const require = createRequire(import.meta.url);
const authyFactory = require('authy') as (key: string, url: string) => any;

let t: TestApp;
let authy: any;
let base: string;
before(async () => {
  t = await startApp();
  await t.of.services.applications.updateSettings(t.appId, { sendsPerHour: 100 });
  base = await t.listen();
  authy = authyFactory(t.apiKey, base);
});
after(() => t.close());

const cb = <T = any>(fn: (done: (err: any, res: T) => void) => void) =>
  new Promise<{ err: any; res: T }>((resolve) => fn((err, res) => resolve({ err, res })));

async function register(email: string, phone: string): Promise<number> {
  const r = await cb((done) => authy.register_user(email, phone, '1', done));
  assert.equal(r.err, null);
  return r.res.user.id;
}

test('request_sms (plain and forced) and request_call; the codes verify', async () => {
  const id = await register('na-sms@example.com', '415-555-0181');
  const sms = await cb((done) => authy.request_sms(id, done));
  assert.equal(sms.err, null);
  assert.deepEqual(sms.res, { success: true, message: 'SMS token was sent', cellphone: '+1-XXX-XXX-XX81' });
  const firstMsg = await delivered(t, '+14155550181');
  const code = codeIn(firstMsg.text, 7);
  const ok = await cb((done) => authy.verify(id, code, true, done));
  assert.equal(ok.err, null);
  assert.equal(ok.res.token, 'is valid');
  assert.equal(ok.res.success, 'true');

  await addDevice(t, id, 'android');
  const ignored = await cb((done) => authy.request_sms(id, done));
  assert.equal(ignored.res.ignored, true);
  assert.equal(ignored.res.device, 'android');
  const forced = await cb((done) => authy.request_sms(id, true, done));
  assert.equal(forced.res.message, 'SMS token was sent');
  assert.equal(forced.res.ignored, undefined);
  const forcedMsg = await delivered(t, '+14155550181', firstMsg.id);

  const voice = await cb((done) => authy.request_call(id, true, done));
  assert.equal(voice.err, null);
  assert.equal(voice.res.message, 'Call started...');
  const spoken = spokenCode((await delivered(t, '+14155550181', forcedMsg.id)).text, 7);
  const v = await cb((done) => authy.verify(id, spoken, done));
  assert.equal(v.err, null, JSON.stringify(v.err));
  assert.equal(v.res.token, 'is valid');
});

test('verify: wrong token, right token from the QR secret, then the same token again', async () => {
  const id = await register('na-qr@example.com', '415-555-0182');
  const secret = await scanSecretOverHttp(base, t.apiKey, id);

  const wrong = await cb((done) => authy.verify(id, '000000', true, done));
  assert.equal(wrong.err.error_code, '60020');
  assert.equal(wrong.err.token, 'is invalid');

  const token = totp(secret, Date.now(), { digits: 6 });
  const right = await cb((done) => authy.verify(id, token, true, done));
  assert.equal(right.err, null, JSON.stringify(right.err));
  assert.equal(right.res.message, 'Token is valid.');

  const replay = await cb((done) => authy.verify(id, token, true, done));
  assert.equal(replay.err.error_code, '60019');
  assert.equal(replay.err.message, 'Token is invalid. Token was used recently.');
});

test('a new user, verify without force (node-authy sends none): an SMS code and a QR code verify; wrong ones are refused', async () => {
  const bySms = await register('na-new@example.com', '415-555-0183');
  const sent = await cb((done) => authy.request_sms(bySms, done));
  assert.equal(sent.err, null);
  const code = codeIn((await delivered(t, '+14155550183')).text, 7);
  const wrongSms = await cb((done) => authy.verify(bySms, code === '1234567' ? '7654321' : '1234567', done));
  assert.equal(wrongSms.err.error_code, '60020', 'a wrong code is an error, not a 200');
  const rightSms = await cb((done) => authy.verify(bySms, code, done));
  assert.equal(rightSms.err, null, JSON.stringify(rightSms.err));
  assert.equal(rightSms.res.token, 'is valid');

  const byQr = await register('na-new-qr@example.com', '415-555-0184');
  const secret = await scanSecretOverHttp(base, t.apiKey, byQr);
  const wrongQr = await cb((done) => authy.verify(byQr, '000000', done));
  assert.equal(wrongQr.err.error_code, '60020');
  const rightQr = await cb((done) => authy.verify(byQr, totp(secret, Date.now(), { digits: 6 }), done));
  assert.equal(rightQr.err, null, JSON.stringify(rightQr.err));
  assert.equal(rightQr.res.message, 'Token is valid.');
  for (const id of [bySms, byQr]) {
    const status = await cb((done) => authy.user_status(id, done));
    assert.equal(status.res.status.confirmed, true, 'the first right code completes the registration');
  }
});
