// node-authy (phones().verification_start/check/status/info, parameters in a GET's form body)
// and authy-client (startPhoneVerification, verifyPhone, getPhoneInformation, with its own
// response assertions) against a real listening OpenFactor; wrong, expired and over-limit paths.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startApp, type TestApp } from '../support/harness.ts';
import { codeIn, delivered } from '../support/tokens.ts';

const require = createRequire(import.meta.url);
const authyFactory = require('authy') as (key: string, url: string) => any;
const { Client } = require('authy-client') as { Client: new (o: { key: string }, p: { host: string }) => any };

let t: TestApp;
let base: string;
before(async () => {
  t = await startApp();
  base = await t.listen();
});
after(() => t.close());

const cb = <T = any>(fn: (done: (err: any, res: T) => void) => void) =>
  new Promise<{ err: any; res: T }>((resolve) => fn((err, res) => resolve({ err, res })));

test('node-authy: verification_start, verification_status, verification_check (wrong, right), info', async () => {
  const phones = authyFactory(t.apiKey, base).phones();
  const started = await cb((done) => phones.verification_start('415-555-0151', '1', { via: 'sms', locale: 'en', code_length: 6 }, done));
  assert.equal(started.err, null);
  assert.equal(started.res.message, 'Text message sent to +1 415-555-0151.');
  const code = codeIn((await delivered(t, '+14155550151')).text, 6);

  const st = await cb((done) => phones.verification_status('415-555-0151', '1', done));
  assert.equal(st.err, null);
  assert.equal(st.res.status, 'pending');

  const wrong = await cb((done) => phones.verification_check('415-555-0151', '1', code === '000000' ? '111111' : '000000', done));
  assert.equal(wrong.err.error_code, '60022');
  const right = await cb((done) => phones.verification_check('415-555-0151', '1', code, done));
  assert.equal(right.err, null);
  assert.equal(right.res.message, 'Verification code is correct.');

  const info = await cb((done) => phones.info('7400123456', '44', done));
  assert.equal(info.err, null);
  assert.equal(info.res.type, 'cellphone');
  assert.equal(info.res.provider, 'Three');

  const call = await cb((done) => phones.verification_start('2079460018', '44', 'call', done));
  assert.equal(call.err, null);
  assert.equal(call.res.message, 'Call to +44 20-7946-0018 initiated');
  const landlineSms = await cb((done) => phones.verification_start('2079460018', '44', 'sms', done));
  assert.equal(landlineSms.err.error_code, '60082');
});

test('authy-client: startPhoneVerification, verifyPhone, getPhoneInformation pass its assertions; expired and over-limit paths', async () => {
  const client = new Client({ key: t.apiKey }, { host: base });
  const started = await client.startPhoneVerification({ countryCode: 'US', phone: '415-555-0152', via: 'sms' });
  assert.equal(started.is_cellphone, true);
  const code = codeIn((await delivered(t, '+14155550152')).text, 4);
  const ok = await client.verifyPhone({ countryCode: 'US', phone: '415-555-0152', token: code });
  assert.equal(ok.message, 'Verification code is correct.');
  await assert.rejects(client.verifyPhone({ countryCode: 'US', phone: '415-555-0152', token: code }), (e: any) => e.code === 404 && e.body.error_code === '60023');

  const info = await client.getPhoneInformation({ countryCode: 'PT', phone: '912345678' });
  assert.equal(info.type, 'cellphone');
  assert.equal(info.provider, 'Vodafone');
  assert.equal(info.ported, false);

  // Expired: the code no longer verifies.
  await client.startPhoneVerification({ countryCode: 'US', phone: '415-555-0153', via: 'sms' });
  const late = codeIn((await delivered(t, '+14155550153')).text, 4);
  await t.store.db.updateTable('phone_verifications').set({ expires_at: Date.now() - 1 }).where('phone_index', '=', t.of.services.contacts.phoneIndex('+14155550153')).execute();
  await assert.rejects(client.verifyPhone({ countryCode: 'US', phone: '415-555-0153', token: late }), (e: any) => e.body.error_code === '60023');

  // Over the per-number limit.
  await t.of.services.applications.updateSettings(t.appId, { sendsPerNumberHour: 2 });
  try {
    await client.startPhoneVerification({ countryCode: 'US', phone: '415-555-0154', via: 'sms' });
    await client.startPhoneVerification({ countryCode: 'US', phone: '415-555-0154', via: 'call' });
    await assert.rejects(client.startPhoneVerification({ countryCode: 'US', phone: '415-555-0154', via: 'sms' }), (e: any) => e.code === 429 && e.body.error_code === '60003');
  } finally {
    await t.of.services.applications.updateSettings(t.appId, { sendsPerNumberHour: 10 });
  }
});
