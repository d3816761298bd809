// Verify v2 attempts through the official twilio client: one per send, with channel, conversion
// status, null price, the filters of /v2/Attempts, fetch by VL SID, the summary; per account.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp } from '../support/harness.ts';
import { codeIn, delivered } from '../support/tokens.ts';
import { newAccount, restError, verifyClient, type Twilio, type VerifyAccountMade } from '../support/verify.ts';

let t: TestApp;
let base: string;
let acme: VerifyAccountMade;
let client: Twilio;
let va: string;
let vb: string;
const sids: Record<string, string> = {};

before(async () => {
  t = await startApp();
  base = await t.listen();
  acme = await newAccount(t);
  client = verifyClient(base, acme.sid, acme.authToken);
  va = (await client.verify.v2.services.create({ friendlyName: 'A' })).sid;
  vb = (await client.verify.v2.services.create({ friendlyName: 'B' })).sid;
  // A: an SMS sent twice then approved; a call left unconverted. B: an email.
  const one = await client.verify.v2.services(va).verifications.create({ to: '+14155550160', channel: 'sms' });
  await client.verify.v2.services(va).verifications.create({ to: '+14155550160', channel: 'sms' });
  await client.verify.v2.services(va).verificationChecks.create({ to: '+14155550160', code: codeIn((await delivered(t, '+14155550160')).text, 6) });
  const two = await client.verify.v2.services(va).verifications.create({ to: '+351912345678', channel: 'call' });
  const three = await client.verify.v2.services(vb).verifications.create({ to: 'bo@example.com', channel: 'email' });
  Object.assign(sids, { one: one.sid, two: two.sid, three: three.sid });
});
after(() => t?.close());

test('each send is an attempt: list newest first, fetch by VL SID', async () => {
  const all = await client.verify.v2.verificationAttempts.list();
  assert.equal(all.length, 4);
  assert.deepEqual(all.map((a) => a.verificationSid), [sids.three, sids.two, sids.one, sids.one]);
  const [email, call, sms] = all;
  assert.equal(email.channel, 'email');
  assert.equal(email.serviceSid, vb);
  assert.equal(email.conversionStatus, 'unconverted');
  assert.equal(call.channel, 'call');
  assert.equal(call.channelData.country, 'PT');
  assert.equal(call.channelData.to, '+351912345678');
  assert.equal(sms.conversionStatus, 'converted');
  assert.equal(sms.price, null);
  assert.equal(sms.accountSid, acme.sid);
  assert.match(sms.sid, /^VL[0-9a-f]{32}$/);
  assert.equal(sms.url, `${base}/v2/Attempts/${sms.sid}`);
  const fetched = await client.verify.v2.verificationAttempts(sms.sid).fetch();
  assert.deepEqual(fetched.toJSON(), sms.toJSON());
  const v = await client.verify.v2.services(va).verifications(sids.two).fetch();
  assert.deepEqual(v.sendCodeAttempts.map((a) => a.attempt_sid), [call.sid]);
});

test('filters: service, verification, destination, country, channel, status, dates; paging keeps them', async () => {
  const list = (opts: object) => client.verify.v2.verificationAttempts.list(opts as any);
  assert.equal((await list({ verifyServiceSid: va })).length, 3);
  assert.equal((await list({ verifyServiceSid: vb })).length, 1);
  assert.equal((await list({ verificationSid: sids.one })).length, 2);
  assert.equal((await list({ 'channelData.to': '+14155550160' })).length, 2);
  assert.equal((await list({ 'channelData.to': 'bo@example.com' })).length, 1);
  assert.equal((await list({ country: 'pt' })).length, 1);
  assert.equal((await list({ channel: 'email' })).length, 1);
  assert.equal((await list({ status: 'CONVERTED' })).length, 2);
  assert.equal((await list({ status: 'UNCONVERTED' })).length, 2);
  assert.equal((await list({ dateCreatedAfter: new Date(Date.now() + 60_000) })).length, 0);
  assert.equal((await list({ dateCreatedBefore: new Date(Date.now() + 60_000) })).length, 4);
  const paged = await list({ verifyServiceSid: va, pageSize: 1 });
  assert.equal(paged.length, 3, 'next_page_url carries the filter');
  const page = await client.verify.v2.verificationAttempts.page({ verifyServiceSid: va, pageSize: 1 });
  assert.match(page.nextPageUrl!, new RegExp(`VerifyServiceSid=${va}`));
});

test('summary: totals and conversion rate', async () => {
  const s = await client.verify.v2.verificationAttemptsSummary().fetch();
  assert.equal(s.totalAttempts, 4);
  assert.equal(s.totalConverted, 2);
  assert.equal(s.totalUnconverted, 2);
  assert.equal(Number(s.conversionRatePercentage), 50);
  assert.equal((await client.verify.v2.verificationAttemptsSummary().fetch({ verifyServiceSid: vb })).totalAttempts, 1);
});

test("another account sees none of them", async () => {
  const eve = await newAccount(t, 'Eve');
  const evil = verifyClient(base, eve.sid, eve.authToken);
  assert.equal((await evil.verify.v2.verificationAttempts.list()).length, 0);
  assert.equal((await evil.verify.v2.verificationAttempts.list({ verifyServiceSid: va })).length, 0);
  const some = (await client.verify.v2.verificationAttempts.list())[0];
  assert.equal((await restError(evil.verify.v2.verificationAttempts(some.sid).fetch())).code, 20404);
  assert.equal((await evil.verify.v2.verificationAttemptsSummary().fetch()).totalAttempts, 0);
});
