// Verify v2 push factors and challenges: a device key pair made here (ECDSA P-256), the factor
// created through the official twilio client, the device verifying it and answering challenges
// over raw HTTP as Twilio's device SDK does (Basic auth whose password is a JWT signed by its key;
// the challenge fetched with Twilio-Verify-Signature-Fields, an ES256 JWT over those fields and
// the chosen status posted as AuthPayload), and the backend seeing the outcome through twilio-node.
// Bad signatures, tampered fields, expiry, notifications and the device's narrow reach.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { raw, restError, verifyBed, type VerifyBed } from '../support/verify.ts';

let { t, base, acme, va, svc } = {} as VerifyBed;

before(async () => {
  ({ t, base, acme, va, svc } = await verifyBed({ friendlyName: 'Acme Push' }));
});
after(() => t?.close());

let n = 0;
const identity = () => `push-user-${++n}-${Date.now().toString(36)}`;

const keyPair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' }).toString('base64');

/** A device: its key, its factor, and its signed calls. */
class Device {
  constructor(
    readonly id: string,
    readonly factorSid: string,
    private readonly key: KeyObject,
  ) {}

  /** The SDK's own credentials: a JWT with the verify_push grant, signed by the device key. */
  async authToken(key = this.key, grant: Record<string, string> = {}) {
    return new SignJWT({ grants: { verify_push: { factor_sid: this.factorSid, entity_sid: this.id, service_sid: va, ...grant } } })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', cty: 'twilio-pba;v=1', kid: 'CR' + '0'.repeat(32) })
      .setSubject(acme.sid)
      .setNotBefore('0s')
      .setExpirationTime('5m')
      .sign(key);
  }

  async call(method: string, path: string, form?: Record<string, string>, key?: KeyObject) {
    return raw(base, method, `/v2/Services/${va}/Entities/${this.id}${path}`, { user: 'token', password: await this.authToken(key) }, form);
  }

  /** What Twilio's PushChallengeProcessor does: fetch, sign the listed fields and the status, post. */
  async answer(challengeSid: string, status: 'approved' | 'denied', opts: { key?: KeyObject; tamper?: (p: Record<string, unknown>) => void } = {}) {
    const got = await this.call('GET', `/Challenges/${challengeSid}`);
    assert.equal(got.status, 200, got.text);
    const fields = got.headers.get('twilio-verify-signature-fields');
    assert.ok(fields, 'the signature fields header');
    const payload: Record<string, unknown> = {};
    for (const f of fields.split(',')) payload[f] = got.json[f];
    payload.status = status;
    opts.tamper?.(payload);
    const jwt = await new SignJWT(payload).setProtectedHeader({ alg: 'ES256' }).sign(opts.key ?? this.key);
    return this.call('POST', `/Challenges/${challengeSid}`, { AuthPayload: jwt, Metadata: JSON.stringify({ os: 'Android' }) });
  }
}

/** A push factor made through twilio-node, verified by its device. */
async function enrolled(platform: 'none' | 'fcm' | 'apn' = 'none') {
  const id = identity();
  const { publicKey, privateKey } = keyPair();
  const f = await svc.entities(id).newFactors.create({
    friendlyName: 'Pixel 9',
    factorType: 'push',
    'binding.alg': 'ES256',
    'binding.publicKey': spki(publicKey),
    'config.appId': 'com.example.app',
    'config.sdkVersion': '1.0.0',
    'config.notificationPlatform': platform,
    ...(platform === 'none' ? {} : { 'config.notificationToken': 't'.repeat(64) }),
    metadata: { os: 'Android' },
  });
  assert.equal(f.status, 'unverified');
  const device = new Device(id, f.sid, privateKey);
  const proof = await new SignJWT({ factor_sid: f.sid }).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
  const v = await device.call('POST', `/Factors/${f.sid}`, { AuthPayload: proof });
  assert.equal(v.status, 200, v.text);
  assert.equal(v.json.status, 'verified');
  return { f, device, entity: svc.entities(id) };
}

test('a push factor: created through twilio-node with the device public key, binding answered once, verified by the device', async () => {
  const { f, entity } = await enrolled('fcm');
  assert.match(f.sid, /^YF[0-9a-f]{32}$/);
  assert.equal(f.factorType, 'push');
  assert.equal((f.binding as { alg: string }).alg, 'ES256');
  assert.deepEqual(f.config, { sdk_version: '1.0.0', app_id: 'com.example.app', notification_platform: 'fcm', notification_token: 't'.repeat(64) });
  assert.deepEqual(f.metadata, { os: 'Android' });
  const fetched = await entity.factors(f.sid).fetch();
  assert.equal(fetched.status, 'verified');
  const row = await t.store.db.selectFrom('verify_factors').selectAll().where('sid', '=', f.sid).executeTakeFirstOrThrow();
  assert.ok(!row.binding_sealed.includes((f.binding as { public_key: string }).public_key), 'the public key is sealed, as device keys are');
});

test('bad push factors: 400/60200 (algorithm, key, platform, token), nothing stored', async () => {
  const id = identity();
  const pk = spki(keyPair().publicKey);
  const good = { friendlyName: 'x', factorType: 'push', 'binding.alg': 'ES256', 'binding.publicKey': pk, 'config.appId': 'com.example.app', 'config.notificationPlatform': 'none', 'config.sdkVersion': '1' };
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  for (const over of [{ 'binding.alg': 'RS256' }, { 'binding.publicKey': 'bm9wZQ==' }, { 'binding.publicKey': rsa }, { 'config.notificationPlatform': 'pigeon' }, { 'config.notificationPlatform': 'apn' }, { 'config.notificationPlatform': 'fcm', 'config.notificationToken': 'short' }, { 'config.appId': undefined }]) {
    const e = await restError(svc.entities(id).newFactors.create({ ...good, ...over } as any));
    assert.equal(e.status, 400, JSON.stringify(over));
    assert.equal(e.code, 60200);
  }
  assert.equal((await restError(svc.entities(id).fetch())).code, 20404);
});

test('a push challenge: details and hidden details; the device approves with a signed JWT; twilio-node sees approved', async () => {
  const { f, device, entity } = await enrolled();
  const c = await entity.challenges.create({
    factorSid: f.sid,
    'details.message': 'Login request',
    'details.fields': [
      { label: 'Action', value: 'Sign in' },
      { label: 'IP', value: '203.0.113.7' },
    ],
    hiddenDetails: { ip: '172.168.1.234' },
  });
  assert.equal(c.status, 'pending');
  assert.equal(c.factorType, 'push');
  assert.deepEqual(c.details, { message: 'Login request', fields: [{ label: 'Action', value: 'Sign in' }, { label: 'IP', value: '203.0.113.7' }] });
  assert.deepEqual(c.hiddenDetails, { ip: '172.168.1.234' });
  assert.equal(c.dateResponded, null);
  assert.ok(c.expirationDate.getTime() - Date.now() > 4 * 60_000 && c.expirationDate.getTime() - Date.now() <= 5 * 60_000, 'five minutes by default');
  assert.equal(c.links.notifications, `${c.url}/Notifications`);

  // The device learns of it by listing its pending challenges (no APNs/FCM here).
  const pending = await device.call('GET', `/Challenges?FactorSid=${f.sid}&Status=pending`);
  assert.equal(pending.status, 200, pending.text);
  assert.deepEqual(pending.json.challenges.map((x: { sid: string }) => x.sid), [c.sid]);

  const answered = await device.answer(c.sid, 'approved');
  assert.equal(answered.status, 200, answered.text);
  assert.equal(answered.json.status, 'approved');
  const seen = await entity.challenges(c.sid).fetch();
  assert.equal(seen.status, 'approved');
  assert.equal(seen.respondedReason, 'none');
  assert.ok(seen.dateResponded instanceof Date);
  assert.deepEqual(seen.metadata, { os: 'Android' });
  // Answered once.
  const twice = await device.answer(c.sid, 'denied');
  assert.equal(twice.status, 403);
});

test('the device denies; a bad signature, another key or a tampered field is refused (403/60324) and the challenge stays pending', async () => {
  const { f, device, entity } = await enrolled();
  const c = await entity.challenges.create({ factorSid: f.sid, 'details.message': 'Pay 10 EUR to Bob' });
  const stranger = keyPair().privateKey;
  const forged = await device.answer(c.sid, 'approved', { key: stranger }); // the JWT auth with the real key, the answer with another
  assert.equal(forged.status, 403, forged.text);
  assert.equal(forged.json.code, 60324);
  const tampered = await device.answer(c.sid, 'approved', { tamper: (p) => (p.details = { message: 'Pay 1 EUR to Bob', fields: [] }) });
  assert.equal(tampered.status, 403);
  const badStatus = await device.answer(c.sid, 'approved', { tamper: (p) => (p.status = 'pending') });
  assert.equal(badStatus.status, 403);
  const notJwt = await device.call('POST', `/Challenges/${c.sid}`, { AuthPayload: 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln' });
  assert.equal(notJwt.status, 403);
  assert.equal((await entity.challenges(c.sid).fetch()).status, 'pending');
  // The backend with its credentials posting a forged answer fares no better.
  const e = await restError(entity.challenges(c.sid).update({ authPayload: 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln' }));
  assert.equal(e.code, 60324);
  // Five wrong answers: the cap (429/60308), even for a good one.
  const capped = await device.answer(c.sid, 'approved');
  assert.equal(capped.status, 429);
  assert.equal(capped.json.code, 60308);
  const denied = await enrolled().then(async ({ f: f2, device: d2, entity: e2 }) => {
    const c2 = await e2.challenges.create({ factorSid: f2.sid, 'details.message': 'Login' });
    assert.equal((await d2.answer(c2.sid, 'denied')).json.status, 'denied');
    return e2.challenges(c2.sid).fetch();
  });
  assert.equal(denied.status, 'denied');
});

test('device credentials: a bad or foreign JWT is 401/20003; a device reaches only its own factor and challenges', async () => {
  const a = await enrolled();
  const b = await enrolled();
  const cb = await b.entity.challenges.create({ factorSid: b.f.sid, 'details.message': 'For b' });
  // Signed by another key than the factor's.
  const wrongKey = await a.device.call('GET', `/Factors/${a.f.sid}`, undefined, keyPair().privateKey);
  assert.equal(wrongKey.status, 401);
  assert.equal(wrongKey.json.code, 20003);
  // A device JWT on a route the SDK does not call.
  const services = await raw(base, 'GET', '/v2/Services', { user: 'token', password: await a.device.authToken() });
  assert.equal(services.status, 401);
  const create = await a.device.call('POST', '/Challenges', { FactorSid: a.f.sid, 'Details.Message': 'self-approve?' });
  assert.equal(create.status, 401);
  // b's challenge through a's path, or a's JWT with b's identity: unknown.
  const other = await raw(base, 'GET', `/v2/Services/${va}/Entities/${b.device.id}/Challenges/${cb.sid}`, { user: 'token', password: await a.device.authToken() });
  assert.equal(other.status, 404);
  const claimed = await raw(base, 'GET', `/v2/Services/${va}/Entities/${b.device.id}/Challenges/${cb.sid}`, { user: 'token', password: await a.device.authToken(undefined, { entity_sid: b.device.id }) });
  assert.equal(claimed.status, 401);
});

test('expiry: a challenge past its expiration date is expired, an answer gets 403/60323; notifications (201) for pending ones only', async () => {
  const { f, device, entity } = await enrolled();
  const c = await entity.challenges.create({ factorSid: f.sid, 'details.message': 'Login', expirationDate: new Date(Date.now() + 120_000) });
  assert.ok(Math.abs(c.expirationDate.getTime() - (Date.now() + 120_000)) < 5000);
  const note = await entity.challenges(c.sid).notifications.create({ ttl: 120 });
  assert.match(note.sid, /^NT[0-9a-f]{32}$/);
  assert.equal(note.ttl, 120);
  assert.equal(note.challengeSid, c.sid);
  assert.equal(note.priority, 'high');
  assert.equal((await restError(entity.challenges(c.sid).notifications.create({ ttl: 301 }))).code, 60200);

  await t.store.db.updateTable('verify_challenges').set({ expires_at: Date.now() - 1 }).where('sid', '=', c.sid).execute();
  assert.equal((await entity.challenges(c.sid).fetch()).status, 'expired');
  const got = await device.call('GET', `/Challenges/${c.sid}`);
  assert.equal(got.json.status, 'expired');
  const late = await device.call('POST', `/Challenges/${c.sid}`, { AuthPayload: 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln' });
  assert.equal(late.status, 403);
  assert.equal(late.json.code, 60323);
  assert.equal((await restError(entity.challenges(c.sid).notifications.create())).code, 60323);
  assert.ok((await entity.challenges.list({ status: 'expired' })).some((x) => x.sid === c.sid));
  assert.ok(!(await entity.challenges.list({ status: 'pending' })).some((x) => x.sid === c.sid));
});

test('push challenge details: Details.Message required (60368), fields checked, HiddenDetails a JSON object', async () => {
  const { f, entity } = await enrolled();
  const cases: [Record<string, unknown>, number][] = [
    [{}, 60368],
    [{ 'details.message': 'x'.repeat(257) }, 60368],
    [{ 'details.message': 'ok', 'details.fields': [{ label: 'x'.repeat(37), value: 'v' }] }, 60368],
    [{ 'details.message': 'ok', 'details.fields': Array.from({ length: 21 }, (_, i) => ({ label: `L${i}`, value: 'v' })) }, 60368],
    [{ 'details.message': 'ok', hiddenDetails: '[1,2]' }, 60200],
    [{ 'details.message': 'ok', authPayload: '123456' }, 60200],
  ];
  for (const [opts, code] of cases) {
    const e = await restError(entity.challenges.create({ factorSid: f.sid, ...opts } as any));
    assert.equal(e.status, 400, JSON.stringify(opts).slice(0, 80));
    assert.equal(e.code, code, JSON.stringify(opts).slice(0, 80));
  }
  // A single field arrives as one key, still a list.
  const one = await entity.challenges.create({ factorSid: f.sid, 'details.message': 'ok', 'details.fields': [{ label: 'Only', value: 'one' }] });
  assert.deepEqual(one.details, { message: 'ok', fields: [{ label: 'Only', value: 'one' }] });
});
