// authy-client (seegno) sending and verifying codes against a real listening OpenFactor. It
// asserts the response shapes itself (cellphone required, "Token is valid."), so each call
// succeeding is part of the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startApp, type TestApp } from '../support/harness.ts';
import { addDevice, codeIn, delivered, spokenCode } from '../support/tokens.ts';
import { scanSecretOverHttp } from '../support/qr.ts';
import { totp } from '../../src/core/otp.ts';

const require = createRequire(import.meta.url);
const { Client } = require('authy-client');

let t: TestApp;
let client: any;
let base: string;
before(async () => {
  t = await startApp();
  await t.of.services.applications.updateSettings(t.appId, { sendsPerHour: 100 });
  base = await t.listen();
  client = new Client({ key: t.apiKey }, { host: base });
});
after(() => t.close());

const register = async (email: string, phone: string) => (await client.registerUser({ countryCode: 'US', email, phone })).user.id as number;

test('requestSms: plain, with action + message, ignored for app users, forced', async () => {
  const authyId = await register('ac-sms@example.com', '415-555-0191');
  const plain = await client.requestSms({ authyId });
  assert.equal(plain.message, 'SMS token was sent');
  assert.equal(plain.cellphone, '+1-XXX-XXX-XX91');
  const first = await delivered(t, '+14155550191');
  assert.equal((await client.verifyToken({ authyId, token: codeIn(first.text, 7) }, { force: true })).token, 'is valid');

  await addDevice(t, authyId, 'iphone');
  const ignored = await client.requestSms({ authyId });
  assert.equal(ignored.ignored, true);
  assert.equal(ignored.device, 'iphone');

  const withAction = await client.requestSms({ authyId }, { action: 'withdraw', message: 'Withdraw 200 USD' });
  assert.equal(withAction.message, 'SMS token was sent');
  const bound = await delivered(t, '+14155550191', first.id);
  assert.match(bound.text, /Withdraw 200 USD/);
  const code = codeIn(bound.text, 7);
  await assert.rejects(client.verifyToken({ authyId, token: code }), (e: any) => e.code === 401 && e.body.error_code === '60020');
  assert.equal((await client.verifyToken({ authyId, token: code }, { force: true }).catch((e: any) => e.body)).error_code, '60020', 'an action code needs its action');

  const forced = await client.requestSms({ authyId }, { force: true });
  assert.equal(forced.message, 'SMS token was sent');
});

test('requestCall: forced call, the spoken code verifies', async () => {
  const authyId = await register('ac-call@example.com', '415-555-0192');
  const r = await client.requestCall({ authyId }, { force: true });
  assert.equal(r.message, 'Call started...');
  const code = spokenCode((await delivered(t, '+14155550192')).text, 7);
  const v = await client.verifyToken({ authyId, token: code }, { force: true });
  assert.equal(v.message, 'Token is valid.');
});

test('verifyToken: wrong, right from the QR secret, replayed', async () => {
  const authyId = await register('ac-qr@example.com', '415-555-0193');
  const secret = await scanSecretOverHttp(base, t.apiKey, authyId);

  await assert.rejects(client.verifyToken({ authyId, token: '000000' }, { force: true }), (e: any) => e.code === 401 && e.body.error_code === '60020');
  const token = totp(secret, Date.now(), { digits: 6 });
  const ok = await client.verifyToken({ authyId, token }, { force: true });
  assert.equal(ok.token, 'is valid');
  await assert.rejects(client.verifyToken({ authyId, token }, { force: true }), (e: any) => e.code === 401 && e.body.error_code === '60019' && e.body.message === 'Token is invalid. Token was used recently.');
});

test('a new user, verifyToken without force (authy-client sends none): an SMS code and a QR code verify; wrong ones are refused', async () => {
  const bySms = await register('ac-new@example.com', '415-555-0194');
  assert.equal((await client.requestSms({ authyId: bySms })).message, 'SMS token was sent');
  const code = codeIn((await delivered(t, '+14155550194')).text, 7);
  await assert.rejects(client.verifyToken({ authyId: bySms, token: code === '1234567' ? '7654321' : '1234567' }), (e: any) => e.code === 401 && e.body.error_code === '60020');
  assert.equal((await client.verifyToken({ authyId: bySms, token: code })).token, 'is valid');

  const byQr = await register('ac-new-qr@example.com', '415-555-0195');
  const secret = await scanSecretOverHttp(base, t.apiKey, byQr);
  await assert.rejects(client.verifyToken({ authyId: byQr, token: '000000' }), (e: any) => e.code === 401 && e.body.error_code === '60020');
  assert.equal((await client.verifyToken({ authyId: byQr, token: totp(secret, Date.now(), { digits: 6 }) })).message, 'Token is valid.');
  for (const authyId of [bySms, byQr]) assert.equal((await client.getUserStatus({ authyId })).status.confirmed, true, 'the first right code completes the registration');
});
