// Bad input on every Verify v2 route, over raw HTTP: each gets Twilio's error body
// ({code, message, more_info, status}, nothing else) with the right status and code, never a 5xx
// or a stack trace, and nothing is stored by a refused request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp } from '../support/harness.ts';
import { NASTY } from '../support/bad-input.ts';
import { newAccount, raw, verifyClient, type VerifyAccountMade } from '../support/verify.ts';

let t: TestApp;
let base: string;
let acme: VerifyAccountMade;
let auth: { user: string; password: string };
let va: string;
let ve: string;
let vl: string;
let rk: string;
let bl: string;

before(async () => {
  t = await startApp();
  base = await t.listen();
  acme = await newAccount(t);
  auth = { user: acme.sid, password: acme.authToken };
  const client = verifyClient(base, acme.sid, acme.authToken);
  va = (await client.verify.v2.services.create({ friendlyName: 'Bad' })).sid;
  const v = await client.verify.v2.services(va).verifications.create({ to: '+14155550170', channel: 'sms' });
  ve = v.sid;
  vl = v.sendCodeAttempts[0].attempt_sid;
  rk = (await client.verify.v2.services(va).rateLimits.create({ uniqueName: 'limited' })).sid;
  bl = (await client.verify.v2.services(va).rateLimits(rk).buckets.create({ max: 5, interval: 60 })).sid;
});
after(() => t?.close());

function assertTwilioError(r: { status: number; json: any; text: string }, status: number, code: number, what: string) {
  assert.equal(r.status, status, `${what}: ${r.text}`);
  assert.deepEqual(Object.keys(r.json ?? {}).sort(), ['code', 'message', 'more_info', 'status'], what);
  assert.equal(r.json.code, code, `${what}: ${r.text}`);
  assert.equal(r.json.status, status, what);
  assert.equal(r.json.more_info, `https://www.twilio.com/docs/errors/${code}`);
  assert.ok(!/\bat .+\.(ts|js):\d+/.test(r.text), `${what}: no stack trace`);
}

const ROUTES = () => [
  ['POST', '/v2/Services'],
  ['GET', '/v2/Services'],
  ['GET', `/v2/Services/${va}`],
  ['POST', `/v2/Services/${va}`],
  ['POST', `/v2/Services/${va}/Verifications`],
  ['GET', `/v2/Services/${va}/Verifications/${ve}`],
  ['POST', `/v2/Services/${va}/Verifications/${ve}`],
  ['POST', `/v2/Services/${va}/VerificationCheck`],
  ['POST', `/v2/Services/${va}/AccessTokens`],
  ['GET', `/v2/Services/${va}/AccessTokens/${'YK' + '0'.repeat(32)}`],
  ['GET', '/v2/Attempts'],
  ['GET', '/v2/Attempts/Summary'],
  ['GET', `/v2/Attempts/${vl}`],
  ['POST', `/v2/Services/${va}/RateLimits`],
  ['GET', `/v2/Services/${va}/RateLimits`],
  ['GET', `/v2/Services/${va}/RateLimits/${rk}`],
  ['POST', `/v2/Services/${va}/RateLimits/${rk}`],
  ['POST', `/v2/Services/${va}/RateLimits/${rk}/Buckets`],
  ['GET', `/v2/Services/${va}/RateLimits/${rk}/Buckets`],
  ['GET', `/v2/Services/${va}/RateLimits/${rk}/Buckets/${bl}`],
  ['POST', `/v2/Services/${va}/RateLimits/${rk}/Buckets/${bl}`],
  ['DELETE', `/v2/Services/${va}/RateLimits/${rk}/Buckets/${bl}`],
  ['DELETE', `/v2/Services/${va}/RateLimits/${rk}`],
  ['DELETE', `/v2/Services/${va}`],
] as const;

test('every route: 401/20003 without credentials', async () => {
  for (const [method, path] of ROUTES()) assertTwilioError(await raw(base, method, path, undefined), 401, 20003, `${method} ${path}`);
});

test('per route: the parameter errors Twilio answers (60200), unknown SIDs (20404)', async () => {
  const cases: [string, string, Record<string, string> | string | undefined, number, number][] = [
    ['POST', '/v2/Services', {}, 400, 60200],
    ['POST', '/v2/Services', { FriendlyName: 'x', CodeLength: 'six' }, 400, 60200],
    ['POST', '/v2/Services', { FriendlyName: 'x', LookupEnabled: 'maybe' }, 400, 60200],
    ['POST', '/v2/Services', { FriendlyName: 'x', 'Totp.CodeLength': '9' }, 400, 60200],
    ['POST', '/v2/Services', 'FriendlyName[a]=1', 400, 60200],
    ['GET', '/v2/Services?PageSize=0', undefined, 400, 60200],
    ['GET', '/v2/Services?PageSize=1001', undefined, 400, 60200],
    ['GET', '/v2/Services?PageToken=nope', undefined, 400, 60200],
    ['GET', `/v2/Services/VA${'0'.repeat(32)}`, undefined, 404, 20404],
    ['GET', '/v2/Services/nope', undefined, 404, 20404],
    ['POST', `/v2/Services/${va}`, { CodeLength: '99' }, 400, 60200],
    ['POST', `/v2/Services/${va}`, { FriendlyName: '' }, 400, 60200],
    ['POST', `/v2/Services/VA${'0'.repeat(32)}`, { FriendlyName: 'x' }, 404, 20404],
    ['DELETE', `/v2/Services/VA${'0'.repeat(32)}`, undefined, 404, 20404],
    ['POST', `/v2/Services/${va}/Verifications`, {}, 400, 60200],
    ['POST', `/v2/Services/${va}/Verifications`, { To: '+14155550171' }, 400, 60200],
    ['POST', `/v2/Services/${va}/Verifications`, { To: '+14155550171', Channel: 'whatsapp' }, 400, 60223],
    ['POST', `/v2/Services/${va}/Verifications`, { To: 'x', Channel: 'sms' }, 400, 60200],
    ['POST', `/v2/Services/${va}/Verifications`, { To: '+14155550171', Channel: 'sms', RateLimits: '{bad' }, 400, 60200],
    ['POST', `/v2/Services/${va}/Verifications`, { To: '+14155550171', Channel: 'sms', Tags: '[1]' }, 400, 60200],
    ['POST', `/v2/Services/${va}/Verifications`, { To: '+14155550171', Channel: 'sms', ChannelConfiguration: '"x"' }, 400, 60200],
    ['POST', `/v2/Services/${va}/Verifications`, { To: '+14155550171', Channel: 'sms', Amount: '1' }, 400, 60200],
    ['POST', `/v2/Services/${va}/Verifications`, { To: '+14155550171', Channel: 'call', SendDigits: 'abc' }, 400, 60200],
    ['POST', `/v2/Services/${va}/Verifications`, 'To[x]=1&Channel=sms', 400, 60200],
    ['POST', `/v2/Services/VA${'0'.repeat(32)}/Verifications`, { To: '+14155550171', Channel: 'sms' }, 404, 20404],
    ['GET', `/v2/Services/${va}/Verifications/VE${'0'.repeat(32)}`, undefined, 404, 20404],
    ['GET', `/v2/Services/${va}/Verifications/nope`, undefined, 404, 20404],
    ['POST', `/v2/Services/${va}/Verifications/${ve}`, {}, 400, 60200],
    ['POST', `/v2/Services/${va}/Verifications/${ve}`, { Status: 'pending' }, 400, 60200],
    ['POST', `/v2/Services/${va}/Verifications/VE${'0'.repeat(32)}`, { Status: 'canceled' }, 404, 20404],
    ['POST', `/v2/Services/${va}/VerificationCheck`, {}, 400, 60200],
    ['POST', `/v2/Services/${va}/VerificationCheck`, { Code: '123456' }, 400, 60200],
    ['POST', `/v2/Services/${va}/VerificationCheck`, { Code: '12', To: '+14155550170' }, 400, 60200],
    ['POST', `/v2/Services/${va}/VerificationCheck`, { Code: '123456', To: 'nope' }, 400, 60200],
    ['POST', `/v2/Services/${va}/VerificationCheck`, { Code: '123456', VerificationSid: 'nope' }, 400, 60200],
    ['POST', `/v2/Services/${va}/VerificationCheck`, { Code: '123456', To: '+14155550199' }, 404, 20404],
    ['GET', '/v2/Attempts?Status=maybe', undefined, 400, 60200],
    ['GET', '/v2/Attempts?Channel=pigeon', undefined, 400, 60200],
    ['GET', '/v2/Attempts?Country=Portugal', undefined, 400, 60200],
    ['GET', '/v2/Attempts?DateCreatedAfter=yesterday', undefined, 400, 60200],
    ['GET', '/v2/Attempts?VerificationSid=nope', undefined, 400, 60200],
    ['GET', '/v2/Attempts?ChannelData.To=nope', undefined, 400, 60200],
    ['GET', '/v2/Attempts?VerifyServiceSid=nope', undefined, 400, 60200],
    ['GET', '/v2/Attempts/Summary?DestinationPrefix=%2B1', undefined, 400, 60200],
    ['GET', '/v2/Attempts/Summary?DateCreatedBefore=x', undefined, 400, 60200],
    ['GET', `/v2/Attempts/VL${'0'.repeat(32)}`, undefined, 404, 20404],
    ['POST', `/v2/Services/${va}/Verifications`, { To: '+14155550171', Channel: 'sms', RateLimits: '{"nope":"x"}' }, 400, 60200],
    ['POST', `/v2/Services/${va}/Verifications`, { To: '+14155550171', Channel: 'sms', RateLimits: '{"limited":{"a":1}}' }, 400, 60200],
    ['POST', `/v2/Services/${va}/Verifications`, { To: '+14155550171', Channel: 'sms', RateLimits: '{"limited":null}' }, 400, 60200],
    ['POST', `/v2/Services/${va}/Verifications`, { To: '+14155550171', Channel: 'sms', RateLimits: '["limited"]' }, 400, 60200],
    ['POST', `/v2/Services/${va}/RateLimits`, {}, 400, 60200],
    ['POST', `/v2/Services/${va}/RateLimits`, { UniqueName: '  ' }, 400, 60200],
    ['POST', `/v2/Services/${va}/RateLimits`, { UniqueName: 'a b' }, 400, 60209],
    ['POST', `/v2/Services/${va}/RateLimits`, { UniqueName: 'x'.repeat(129) }, 400, 60209],
    ['POST', `/v2/Services/${va}/RateLimits`, { UniqueName: 'limited' }, 400, 60208],
    ['POST', `/v2/Services/${va}/RateLimits`, { UniqueName: 'ok', Description: 'x'.repeat(256) }, 400, 60200],
    ['POST', `/v2/Services/${va}/RateLimits`, 'UniqueName[a]=1', 400, 60200],
    ['POST', `/v2/Services/VA${'0'.repeat(32)}/RateLimits`, { UniqueName: 'x' }, 404, 20404],
    ['GET', `/v2/Services/VA${'0'.repeat(32)}/RateLimits`, undefined, 404, 20404],
    ['GET', `/v2/Services/${va}/RateLimits?PageSize=0`, undefined, 400, 60200],
    ['GET', `/v2/Services/${va}/RateLimits?PageToken=nope`, undefined, 400, 60200],
    ['GET', `/v2/Services/${va}/RateLimits/RK${'0'.repeat(32)}`, undefined, 404, 20404],
    ['GET', `/v2/Services/${va}/RateLimits/nope`, undefined, 404, 20404],
    ['POST', `/v2/Services/${va}/RateLimits/${rk}`, { Description: 'x'.repeat(256) }, 400, 60200],
    ['POST', `/v2/Services/${va}/RateLimits/RK${'0'.repeat(32)}`, { Description: 'x' }, 404, 20404],
    ['DELETE', `/v2/Services/${va}/RateLimits/RK${'0'.repeat(32)}`, undefined, 404, 20404],
    ['POST', `/v2/Services/${va}/RateLimits/${rk}/Buckets`, {}, 400, 60200],
    ['POST', `/v2/Services/${va}/RateLimits/${rk}/Buckets`, { Max: '5' }, 400, 60200],
    ['POST', `/v2/Services/${va}/RateLimits/${rk}/Buckets`, { Interval: '60' }, 400, 60200],
    ['POST', `/v2/Services/${va}/RateLimits/${rk}/Buckets`, { Max: '0', Interval: '60' }, 400, 60200],
    ['POST', `/v2/Services/${va}/RateLimits/${rk}/Buckets`, { Max: '-1', Interval: '60' }, 400, 60200],
    ['POST', `/v2/Services/${va}/RateLimits/${rk}/Buckets`, { Max: 'five', Interval: '60' }, 400, 60200],
    ['POST', `/v2/Services/${va}/RateLimits/${rk}/Buckets`, { Max: '99999999', Interval: '60' }, 400, 60200],
    ['POST', `/v2/Services/${va}/RateLimits/${rk}/Buckets`, { Max: '5', Interval: '0' }, 400, 60200],
    ['POST', `/v2/Services/${va}/RateLimits/${rk}/Buckets`, { Max: '5', Interval: '-60' }, 400, 60200],
    ['POST', `/v2/Services/${va}/RateLimits/${rk}/Buckets`, { Max: '5', Interval: '1e3' }, 400, 60200],
    ['POST', `/v2/Services/${va}/RateLimits/${rk}/Buckets`, { Max: '5', Interval: '99999999999' }, 400, 60200],
    ['POST', `/v2/Services/${va}/RateLimits/${rk}/Buckets`, { Max: '5', Interval: '60' }, 400, 60211],
    ['POST', `/v2/Services/${va}/RateLimits/RK${'0'.repeat(32)}/Buckets`, { Max: '5', Interval: '60' }, 404, 20404],
    ['GET', `/v2/Services/${va}/RateLimits/RK${'0'.repeat(32)}/Buckets`, undefined, 404, 20404],
    ['GET', `/v2/Services/${va}/RateLimits/${rk}/Buckets?PageSize=1001`, undefined, 400, 60200],
    ['GET', `/v2/Services/${va}/RateLimits/${rk}/Buckets/BL${'0'.repeat(32)}`, undefined, 404, 20404],
    ['GET', `/v2/Services/${va}/RateLimits/${rk}/Buckets/nope`, undefined, 404, 20404],
    ['POST', `/v2/Services/${va}/RateLimits/${rk}/Buckets/${bl}`, { Max: '0' }, 400, 60200],
    ['POST', `/v2/Services/${va}/RateLimits/${rk}/Buckets/${bl}`, { Interval: 'x' }, 400, 60200],
    ['POST', `/v2/Services/${va}/RateLimits/${rk}/Buckets/BL${'0'.repeat(32)}`, { Max: '1' }, 404, 20404],
    ['DELETE', `/v2/Services/${va}/RateLimits/${rk}/Buckets/BL${'0'.repeat(32)}`, undefined, 404, 20404],
    ['GET', '/v2/Nothing', undefined, 404, 20404],
    ['PUT', '/v2/Services', undefined, 404, 20404],
    ['GET', '/v2/Services/%ZZ', undefined, 400, 60200],
    ['GET', `/v2/Services/${'x'.repeat(200)}`, undefined, 404, 20404],
    ['GET', '/v2/Services?PageSize=%ZZ', undefined, 400, 60200],
  ];
  for (const [method, path, form, status, code] of cases) assertTwilioError(await raw(base, method, path, auth, form), status, code, `${method} ${path} ${JSON.stringify(form)}`);
});

test('hostile bodies on every route: a Twilio 4xx or a normal answer, never a 5xx; nothing stored from a refusal', async () => {
  const services = async () => (await t.store.db.selectFrom('verify_services').select('id').execute()).length;
  const verifications = async () => (await t.store.db.selectFrom('verify_verifications').select('id').execute()).length;
  const before = [await services(), await verifications()];
  const bodies: [string, string][] = [
    ['application/x-www-form-urlencoded', 'To=%ZZ&Channel=sms'],
    ['application/x-www-form-urlencoded', 'a[b][c][d][e][f][g][h][i][j][k][l][m][n][o][p][q][r]=1'],
    ['application/json', '[1,2,3]'],
    ['application/json', '{"To":'],
    ['text/plain', 'hello'],
    ...NASTY.map((v) => ['application/x-www-form-urlencoded', new URLSearchParams({ FriendlyName: v, To: v, Channel: v, Code: v, Status: v, Tags: v, RateLimits: v, CodeLength: v, UniqueName: v, Description: v, Max: v, Interval: v }).toString()] as [string, string]),
  ];
  for (const [method, path] of ROUTES()) {
    if (method === 'DELETE') continue;
    for (const [type, body] of bodies) {
      const r = await fetch(base + path, { method, headers: { authorization: `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`, 'content-type': type }, body: method === 'GET' ? undefined : body });
      const text = await r.text();
      const what = `${method} ${path} ${type} ${body.slice(0, 40)}`;
      assert.ok(r.status < 500, `${what}: ${r.status} ${text}`);
      if (r.status >= 400) assertTwilioError({ status: r.status, json: JSON.parse(text), text }, r.status, JSON.parse(text).code, what);
    }
  }
  assert.deepEqual([await services(), await verifications()], before, 'no service or verification stored by hostile input');
  // Oversized: 413 in Twilio's shape.
  const big = await raw(base, 'POST', '/v2/Services', auth, `FriendlyName=${'x'.repeat(70_000)}`);
  assertTwilioError(big, 413, 20001, 'oversized body');
});

test('factors, challenges, notifications and service webhooks: Twilio error bodies for bad input, never a 5xx', async () => {
  const client = verifyClient(base, acme.sid, acme.authToken);
  const id = 'bad-input-user';
  const f = await client.verify.v2.services(va).entities(id).newFactors.create({ friendlyName: 'Phone', factorType: 'totp' });
  const yc = (await t.store.db.insertInto('verify_challenges').values({ sid: 'YC' + 'b'.repeat(32), app_id: (await t.store.db.selectFrom('verify_services').select('app_id').where('sid', '=', va).executeTakeFirstOrThrow()).app_id, service_id: (await t.store.db.selectFrom('verify_services').select('id').where('sid', '=', va).executeTakeFirstOrThrow()).id, entity_id: (await t.store.db.selectFrom('verify_entities').select('id').where('identity', '=', id).executeTakeFirstOrThrow()).id, factor_id: (await t.store.db.selectFrom('verify_factors').select('id').where('sid', '=', f.sid).executeTakeFirstOrThrow()).id, status: 'pending', responded_reason: 'none', details: '{"message":null,"fields":[]}', hidden_details: null, metadata: null, expires_at: Date.now() + 60_000, responded_at: null, created_at: Date.now(), updated_at: Date.now() }).returning('sid').executeTakeFirstOrThrow()).sid;
  const yw = (await client.verify.v2.services(va).webhooks.create({ friendlyName: 'w', eventTypes: ['*'], webhookUrl: 'http://127.0.0.1:9/hook' })).sid;
  const E = `/v2/Services/${va}/Entities`;
  const I = `${E}/${id}`;
  const W = `/v2/Services/${va}/Webhooks`;
  const zero = (p: string) => p + '0'.repeat(32);
  const routes = [
    ['POST', E], ['GET', E], ['GET', I], ['DELETE', `${E}/nobody-here`],
    ['POST', `${I}/Factors`], ['GET', `${I}/Factors`], ['GET', `${I}/Factors/${f.sid}`], ['POST', `${I}/Factors/${f.sid}`], ['DELETE', `${I}/Factors/${zero('YF')}`],
    ['POST', `${I}/Challenges`], ['GET', `${I}/Challenges`], ['GET', `${I}/Challenges/${yc}`], ['POST', `${I}/Challenges/${yc}`], ['POST', `${I}/Challenges/${yc}/Notifications`],
    ['POST', W], ['GET', W], ['GET', `${W}/${yw}`], ['POST', `${W}/${yw}`], ['DELETE', `${W}/${zero('YW')}`],
  ] as const;
  for (const [method, path] of routes) assertTwilioError(await raw(base, method, path, undefined), 401, 20003, `${method} ${path}`);

  const cases: [string, string, Record<string, string> | string | undefined, number, number][] = [
    ['POST', E, {}, 400, 60200],
    ['POST', E, { Identity: 'short' }, 400, 60200],
    ['POST', E, 'Identity[x]=1', 400, 60200],
    ['POST', `/v2/Services/${zero('VA')}/Entities`, { Identity: 'someone-new' }, 404, 20404],
    ['GET', `${E}?PageSize=0`, undefined, 400, 60200],
    ['GET', `${E}/nobody-here`, undefined, 404, 20404],
    ['GET', `${E}/x`, undefined, 404, 20404],
    ['DELETE', `${E}/nobody-here`, undefined, 404, 20404],
    ['POST', `${I}/Factors`, {}, 400, 60200],
    ['POST', `${I}/Factors`, { FriendlyName: 'x', FactorType: 'passkeys' }, 400, 60200],
    ['POST', `${I}/Factors`, { FriendlyName: 'x', FactorType: 'totp', 'Config.TimeStep': 'soon' }, 400, 60200],
    ['POST', `${I}/Factors`, { FriendlyName: 'x', FactorType: 'totp', Metadata: '{bad' }, 400, 60200],
    ['POST', `${I}/Factors`, { FriendlyName: 'x', FactorType: 'push', 'Binding.Alg': 'ES256', 'Binding.PublicKey': '%%%', 'Config.AppId': 'a' }, 400, 60200],
    ['POST', `${E}/bad id/Factors`, { FriendlyName: 'x', FactorType: 'totp' }, 400, 60200],
    ['GET', `${I}/Factors/${zero('YF')}`, undefined, 404, 20404],
    ['GET', `${I}/Factors/nope`, undefined, 404, 20404],
    ['POST', `${I}/Factors/${f.sid}`, { AuthPayload: '' }, 400, 60200],
    ['POST', `${I}/Factors/${f.sid}`, { 'Config.Skew': '7' }, 400, 60200],
    ['POST', `${I}/Factors/${f.sid}`, { FriendlyName: '' }, 400, 60200],
    ['POST', `${I}/Challenges`, {}, 400, 60200],
    ['POST', `${I}/Challenges`, { FactorSid: 'nope' }, 400, 60200],
    ['POST', `${I}/Challenges`, { FactorSid: zero('YF') }, 404, 20404],
    ['POST', `${I}/Challenges`, { FactorSid: f.sid }, 403, 60318],
    ['POST', `${I}/Challenges`, { FactorSid: f.sid, ExpirationDate: 'tomorrow' }, 400, 60200],
    ['POST', `${I}/Challenges`, { FactorSid: f.sid, 'Details.Fields': '{"label":' }, 400, 60368],
    ['GET', `${I}/Challenges?Status=maybe`, undefined, 400, 60200],
    ['GET', `${I}/Challenges?Order=sideways`, undefined, 400, 60200],
    ['GET', `${I}/Challenges?FactorSid=nope`, undefined, 400, 60200],
    ['GET', `${I}/Challenges/${zero('YC')}`, undefined, 404, 20404],
    ['POST', `${I}/Challenges/${yc}`, {}, 400, 60200],
    ['POST', `${I}/Challenges/${yc}`, { AuthPayload: 'abc' }, 400, 60200],
    ['POST', `${I}/Challenges/${yc}`, { AuthPayload: '123456', Metadata: '[1]' }, 400, 60200],
    ['POST', `${I}/Challenges/${yc}/Notifications`, { Ttl: '999' }, 400, 60200],
    ['POST', `${I}/Challenges/${zero('YC')}/Notifications`, {}, 404, 20404],
    ['POST', `/v2/Services/${va}/AccessTokens`, {}, 400, 60200],
    ['POST', `/v2/Services/${va}/AccessTokens`, { Identity: id, FactorType: 'totp' }, 400, 60200],
    ['POST', `/v2/Services/${va}/AccessTokens`, { Identity: id, FactorType: 'push', Ttl: 'soon' }, 400, 60200],
    ['POST', `/v2/Services/${va}/AccessTokens`, { Identity: id, FactorType: 'push', FactorFriendlyName: 'x'.repeat(65) }, 400, 60200],
    ['POST', `/v2/Services/${va}/AccessTokens`, 'Identity[x]=1&FactorType=push', 400, 60200],
    ['POST', `/v2/Services/${zero('VA')}/AccessTokens`, { Identity: id, FactorType: 'push' }, 404, 20404],
    ['GET', `/v2/Services/${va}/AccessTokens/${zero('YK')}`, undefined, 404, 20404],
    ['GET', `/v2/Services/${va}/AccessTokens/nope`, undefined, 404, 20404],
    ['POST', W, {}, 400, 60200],
    ['POST', W, { FriendlyName: 'x', EventTypes: 'nope', WebhookUrl: 'https://example.com/' }, 400, 60200],
    ['POST', W, { FriendlyName: 'x', EventTypes: 'factor.created', WebhookUrl: 'javascript:alert(1)' }, 400, 60200],
    ['POST', W, 'FriendlyName=x&EventTypes=factor.created&EventTypes=bogus&WebhookUrl=https%3A%2F%2Fexample.com%2F', 400, 60200],
    ['GET', `${W}/${zero('YW')}`, undefined, 404, 20404],
    ['POST', `${W}/${yw}`, { Status: 'on' }, 400, 60200],
    ['POST', `${W}/${yw}`, { Version: 'v3' }, 400, 60200],
    ['DELETE', `${W}/${zero('YW')}`, undefined, 404, 20404],
  ];
  for (const [method, path, form, status, code] of cases) assertTwilioError(await raw(base, method, path, auth, form), status, code, `${method} ${path} ${JSON.stringify(form)}`);

  const counts = async () => Promise.all((['verify_entities', 'verify_factors', 'verify_challenges', 'verify_webhooks'] as const).map(async (tb) => (await t.store.db.selectFrom(tb).select('id').execute()).length));
  const before = await counts();
  const bodies: [string, string][] = [
    ['application/x-www-form-urlencoded', 'Identity=%ZZ'],
    ['application/x-www-form-urlencoded', 'a[b][c][d][e][f][g][h][i][j][k][l][m][n][o][p][q][r]=1'],
    ['application/json', '{"Identity":'],
    ['text/plain', 'hello'],
    ...NASTY.map((v) => ['application/x-www-form-urlencoded', new URLSearchParams({ Identity: v, FriendlyName: v, FactorType: v, FactorSid: v, AuthPayload: v, 'Details.Message': v, 'Details.Fields': v, HiddenDetails: v, Metadata: v, EventTypes: v, WebhookUrl: v, Status: v, Ttl: v, 'Config.Alg': v }).toString()] as [string, string]),
  ];
  for (const [method, path] of routes) {
    if (method === 'DELETE') continue;
    for (const [type, body] of bodies) {
      const r = await fetch(base + path, { method, headers: { authorization: `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`, 'content-type': type }, body: method === 'GET' ? undefined : body });
      const text = await r.text();
      const what = `${method} ${path} ${type} ${body.slice(0, 40)}`;
      assert.ok(r.status < 500, `${what}: ${r.status} ${text}`);
      if (r.status >= 400) assertTwilioError({ status: r.status, json: JSON.parse(text), text }, r.status, JSON.parse(text).code, what);
    }
  }
  assert.deepEqual(await counts(), before, 'nothing stored by hostile input');
});
