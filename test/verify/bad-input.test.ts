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
  ['GET', '/v2/Attempts'],
  ['GET', '/v2/Attempts/Summary'],
  ['GET', `/v2/Attempts/${vl}`],
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
    ...NASTY.map((v) => ['application/x-www-form-urlencoded', new URLSearchParams({ FriendlyName: v, To: v, Channel: v, Code: v, Status: v, Tags: v, RateLimits: v, CodeLength: v }).toString()] as [string, string]),
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
