// Verify v2 service webhooks through the official twilio client: create (201), fetch, update,
// list, delete; factor and challenge events POSTed to a receiver this test runs, as a form signed
// with X-Twilio-Signature that the twilio package's own validateRequest accepts with the
// account's auth token (and refuses with another); retried after a failure; only the events a
// webhook asked for, and none for a disabled one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import twilio from 'twilio';
import { HOTP, Secret } from 'otpauth';
import { SignJWT } from 'jose';
import { startApp, type TestApp } from '../support/harness.ts';
import { Receiver } from '../support/onetouch.ts';
import { until } from '../support/wait.ts';
import { newAccount, raw, restError, verifyClient, type Twilio, type VerifyAccountMade } from '../support/verify.ts';

let t: TestApp;
let base: string;
let acme: VerifyAccountMade;
let client: Twilio;
let receiver: Receiver;

before(async () => {
  t = await startApp({ OPENFACTOR_HOOK_RETRY_BASE_MS: '50' });
  base = await t.listen();
  acme = await newAccount(t);
  client = verifyClient(base, acme.sid, acme.authToken);
  receiver = await new Receiver().start('/verify/hook?tenant=acme');
});
after(async () => {
  await t?.close();
  await receiver?.close();
});

const code = (secret: string) => HOTP.generate({ secret: Secret.fromBase32(secret), counter: Math.floor(Date.now() / 30_000) });
const paramsOf = (body: string) => Object.fromEntries(new URLSearchParams(body));
/** What the receiver got at `url` (path and query). */
const eventsAt = (url: string) => receiver.requests.filter((r) => r.url === new URL(url).pathname + new URL(url).search);

test('a webhook: create (201), fetch, update, list, delete (204)', async () => {
  const va = (await client.verify.v2.services.create({ friendlyName: 'Hooks CRUD' })).sid;
  const svc = client.verify.v2.services(va);
  const w = await svc.webhooks.create({ friendlyName: 'audit', eventTypes: ['factor.created', 'challenge.approved'], webhookUrl: receiver.url, status: 'enabled', versionParam: 'v2' });
  assert.match(w.sid, /^YW[0-9a-f]{32}$/);
  assert.equal(w.friendlyName, 'audit');
  assert.deepEqual(w.eventTypes, ['factor.created', 'challenge.approved']);
  assert.equal(w.webhookUrl, receiver.url);
  assert.equal(w.webhookMethod, 'POST');
  assert.equal(w.status, 'enabled');
  assert.equal(w.version, 'v2');
  assert.equal(w.url, `${base}/v2/Services/${va}/Webhooks/${w.sid}`);
  assert.deepEqual((await svc.webhooks(w.sid).fetch()).toJSON(), w.toJSON());
  const single = await svc.webhooks.create({ friendlyName: 'all', eventTypes: ['*'], webhookUrl: receiver.url });
  assert.deepEqual(single.eventTypes, ['*']);
  assert.equal(single.status, 'enabled');
  const changed = await svc.webhooks(w.sid).update({ status: 'disabled', eventTypes: ['factor.deleted'] });
  assert.equal(changed.status, 'disabled');
  assert.deepEqual(changed.eventTypes, ['factor.deleted']);
  assert.equal(changed.friendlyName, 'audit');
  assert.deepEqual((await svc.webhooks.list()).map((x) => x.sid), [w.sid, single.sid]);
  assert.equal(await svc.webhooks(w.sid).remove(), true);
  assert.equal((await restError(svc.webhooks(w.sid).fetch())).code, 20404);
  const r = await raw(base, 'DELETE', `/v2/Services/${va}/Webhooks/${single.sid}`, { user: acme.sid, password: acme.authToken });
  assert.equal(r.status, 204);
});

test('bad webhooks: 400/60200 (event types, URL, status, version), nothing stored', async () => {
  const va = (await client.verify.v2.services.create({ friendlyName: 'Hooks Bad' })).sid;
  const svc = client.verify.v2.services(va);
  const good = { friendlyName: 'x', eventTypes: ['factor.created'], webhookUrl: receiver.url };
  for (const over of [{ eventTypes: ['factor.exploded'] }, { webhookUrl: 'ftp://example.com/' }, { webhookUrl: 'not a url' }, { status: 'maybe' }, { versionParam: 'v9' }, { friendlyName: '' }]) {
    const e = await restError(svc.webhooks.create({ ...good, ...over } as any));
    assert.equal(e.status, 400, JSON.stringify(over));
    assert.equal(e.code, 60200);
  }
  assert.equal((await svc.webhooks.list()).length, 0);
});

test('events arrive as signed forms that twilio.validateRequest accepts; only the ones asked for; none when disabled', async () => {
  const va = (await client.verify.v2.services.create({ friendlyName: 'Hooks Events' })).sid;
  const svc = client.verify.v2.services(va);
  const url = `${receiver.url}&w=1`;
  await svc.webhooks.create({ friendlyName: 'factors', eventTypes: ['factor.created', 'factor.verified', 'factor.deleted', 'challenge.approved'], webhookUrl: url });
  const offUrl = `${receiver.url}&w=off`;
  const off = await svc.webhooks.create({ friendlyName: 'off', eventTypes: ['*'], webhookUrl: offUrl, status: 'disabled' });

  const id = 'hooked-user-1';
  const f = await svc.entities(id).newFactors.create({ friendlyName: 'Phone', factorType: 'totp' });
  const secret = (f.binding as { secret: string }).secret;
  await svc.entities(id).factors(f.sid).update({ authPayload: code(secret) });
  const c = await svc.entities(id).challenges.create({ factorSid: f.sid });
  await svc.entities(id).factors(f.sid).remove();

  // A pending challenge is no event; its factor's creation, verification and deletion are.
  const got = await until('three events', () => (eventsAt(url).length >= 3 ? eventsAt(url) : undefined));
  const types = got.map((r) => paramsOf(r.body).type);
  assert.deepEqual([...types].sort(), ['factor.created', 'factor.deleted', 'factor.verified']);
  for (const r of got) {
    assert.equal(r.method, 'POST');
    assert.match(String(r.headers['content-type']), /^application\/x-www-form-urlencoded/);
    const sig = String(r.headers['x-twilio-signature']);
    const params = paramsOf(r.body);
    assert.equal(twilio.validateRequest(acme.authToken, sig, url, params), true, `signature of ${params.type}`);
    assert.equal(twilio.validateRequest('f'.repeat(32), sig, url, params), false, 'not with another token');
    assert.equal(params.account_sid, acme.sid);
    assert.equal(params.service_sid, va);
    assert.equal(params.entity_identity, id);
    assert.equal(params.factor_sid, f.sid);
    assert.equal(params.factor_type, 'totp');
    assert.match(params.uuid, /^[0-9a-f-]{36}$/);
  }
  assert.equal(c.status, 'pending');
  assert.equal(eventsAt(offUrl).length, 0, 'a disabled webhook gets nothing');
  // Enabled again, it gets the next events.
  await svc.webhooks(off.sid).update({ status: 'enabled' });
  await svc.entities(id).newFactors.create({ friendlyName: 'Phone 2', factorType: 'totp' });
  const later = await until('the event of the enabled webhook', () => (eventsAt(offUrl).length ? eventsAt(offUrl) : undefined));
  assert.equal(paramsOf(later[0].body).type, 'factor.created');
  assert.equal(twilio.validateRequest(acme.authToken, String(later[0].headers['x-twilio-signature']), offUrl, paramsOf(later[0].body)), true);
});

test('a push challenge approved and denied: challenge events with details; a failed delivery is retried', async () => {
  const va = (await client.verify.v2.services.create({ friendlyName: 'Hooks Push' })).sid;
  const svc = client.verify.v2.services(va);
  const url = `${receiver.url}&w=push`;
  let failFirst = true;
  receiver.answer = (r) => {
    if (r.url.endsWith('w=push') && failFirst) {
      failFirst = false;
      return 500;
    }
    return 200;
  };
  await svc.webhooks.create({ friendlyName: 'challenges', eventTypes: ['challenge.approved', 'challenge.denied'], webhookUrl: url });
  const id = 'hooked-push-1';
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const f = await svc.entities(id).newFactors.create({
    friendlyName: 'Pixel',
    factorType: 'push',
    'binding.alg': 'ES256',
    'binding.publicKey': publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    'config.appId': 'com.example.app',
    'config.notificationPlatform': 'none',
  });
  const auth = { user: acme.sid, password: acme.authToken };
  const proof = await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
  assert.equal((await raw(base, 'POST', `/v2/Services/${va}/Entities/${id}/Factors/${f.sid}`, auth, { AuthPayload: proof })).json.status, 'verified');
  const answer = async (status: string) => {
    const c = await svc.entities(id).challenges.create({ factorSid: f.sid, 'details.message': `Login ${status}`, hiddenDetails: { ip: '198.51.100.1' } });
    const got = await raw(base, 'GET', `/v2/Services/${va}/Entities/${id}/Challenges/${c.sid}`, auth);
    const payload: Record<string, unknown> = { status };
    for (const k of got.headers.get('twilio-verify-signature-fields')!.split(',')) payload[k] = got.json[k];
    const jwt = await new SignJWT(payload).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
    assert.equal((await raw(base, 'POST', `/v2/Services/${va}/Entities/${id}/Challenges/${c.sid}`, auth, { AuthPayload: jwt })).json.status, status);
    return c.sid;
  };
  const approved = await answer('approved');
  const denied = await answer('denied');
  const got = await until('both challenge events, the first one retried', () => {
    const ok = eventsAt(url);
    return ok.length >= 3 ? ok : undefined;
  });
  const byType = new Map(got.map((r) => [paramsOf(r.body).type, paramsOf(r.body)]));
  assert.equal(byType.get('challenge.approved')?.challenge_sid, approved);
  assert.equal(byType.get('challenge.approved')?.challenge_status, 'approved');
  assert.equal(byType.get('challenge.denied')?.challenge_sid, denied);
  assert.deepEqual(JSON.parse(byType.get('challenge.approved')!.challenge_details), { message: 'Login approved', fields: [] });
  assert.deepEqual(JSON.parse(byType.get('challenge.denied')!.challenge_hidden_details), { ip: '198.51.100.1' });
  for (const r of got) assert.equal(twilio.validateRequest(acme.authToken, String(r.headers['x-twilio-signature']), url, paramsOf(r.body)), true);
  // The first attempt failed (500) and was sent again: the same event twice.
  const uuids = got.map((r) => paramsOf(r.body).uuid);
  assert.equal(new Set(uuids).size, 2, 'two events, one of them delivered twice');
  receiver.answer = () => 200;
});
