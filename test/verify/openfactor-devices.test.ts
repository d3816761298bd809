// Verify v2 push factors on OpenFactor's own devices: the backend makes an access token through
// the official twilio client; a device registered through OpenFactor's device SDK enrols a push
// factor with it (its own key is the binding), hears of challenges on its event stream at once,
// and answers them as Twilio's SDK does; the backend sees the outcome through twilio-node and the
// service webhook. An access token is good once (also in a burst), only for its identity, and
// also works the way Twilio's own SDK uses it (HTTP Basic `token:<jwt>` on create factor).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import twilio from 'twilio';
import type { OpenFactorDevice, VerifyChallenge, VerifyChallengeUpdate } from '../../sdk/device/src/index.ts';
import { NASTY } from '../support/bad-input.ts';
import { errorCode } from '../support/devices.ts';
import { Receiver, registerDevice } from '../support/onetouch.ts';
import { createUser } from '../support/tokens.ts';
import { until } from '../support/wait.ts';
import { newAccount, raw, restError, verifyClient, verifyBed, type VerifyBed } from '../support/verify.ts';

let { t, base, acme, va, svc } = {} as VerifyBed;
let receiver: Receiver;
let phones = 0;

before(async () => {
  ({ t, base, acme, va, svc } = await verifyBed({ friendlyName: 'Acme Login' }));
  receiver = await new Receiver().start('/verify/events');
  await svc.webhooks.create({ friendlyName: 'events', eventTypes: ['*'], webhookUrl: receiver.url });
});
after(async () => {
  await t?.close();
  await receiver?.close();
});

/** A person's phone, registered through OpenFactor's device SDK. */
async function phone(algorithm: 'ES256' | 'Ed25519' = 'ES256'): Promise<OpenFactorDevice> {
  const n = String(++phones).padStart(2, '0');
  const authyId = await createUser(t, `person${n}@example.com`, `415555${n}77`);
  return registerDevice(t, base, authyId, { algorithm });
}

/** The device's event stream, collecting Verify challenges and their updates until `stop()`. */
async function listening(device: OpenFactorDevice) {
  const challenges: VerifyChallenge[] = [];
  const updates: VerifyChallengeUpdate[] = [];
  const abort = new AbortController();
  let opened!: () => void;
  const open = new Promise<void>((r) => (opened = r));
  const done = device.listen(() => {}, { signal: abort.signal, onOpen: () => opened(), onVerifyChallenge: (c) => challenges.push(c), onVerifyChallengeUpdate: (u) => updates.push(u) });
  await open;
  return { challenges, updates, stop: async () => void (abort.abort(), await done) };
}

const token = (identity: string, extra: { factorFriendlyName?: string; ttl?: number } = {}) => svc.accessTokens.create({ identity, factorType: 'push', ...extra });

test('an OpenFactor device enrols with an access token, hears of a challenge at once, approves it; twilio-node and the webhook see it', async () => {
  const identity = 'acme-user-0001';
  const at = await token(identity, { factorFriendlyName: 'Anna’s phone', ttl: 120 });
  assert.match(at.sid, /^YK[0-9a-f]{32}$/);
  assert.equal(at.entityIdentity, identity);
  assert.equal(at.factorType, 'push');
  assert.equal(at.ttl, 120);
  assert.equal((await svc.accessTokens(at.sid).fetch()).token, at.token, 'fetch answers the same token');

  const device = await phone();
  const factor = await device.enrolVerifyFactor(at.token);
  assert.match(factor.sid, /^YF[0-9a-f]{32}$/);
  assert.equal(factor.identity, identity);
  assert.equal(factor.friendly_name, 'Anna’s phone', 'the name the backend gave the token');
  assert.equal(factor.status, 'verified', 'the signed call proved the key');
  assert.equal(factor.service_name, 'Acme Login', "the service's name, for the person to see");
  const seen = await svc.entities(identity).factors(factor.sid).fetch();
  assert.equal(seen.status, 'verified');
  assert.equal(seen.factorType, 'push');

  const stream = await listening(device);
  try {
    const c = await svc.entities(identity).challenges.create({ factorSid: factor.sid, 'details.message': 'Sign in to Acme', 'details.fields': [{ label: 'Location', value: 'Lisbon' }], hiddenDetails: { ip: '192.0.2.7' } });
    await until('the device hears of the challenge', () => stream.challenges.length === 1);
    const heard = stream.challenges[0];
    assert.equal(heard.sid, c.sid);
    assert.equal(heard.details.message, 'Sign in to Acme');
    assert.deepEqual(heard.details.fields, [{ label: 'Location', value: 'Lisbon' }]);
    assert.deepEqual(heard.hidden_details, { ip: '192.0.2.7' });
    assert.equal(heard.service_name, 'Acme Login');

    const answered = await device.answerVerifyChallenge(heard, 'approved');
    assert.equal(answered.status, 'approved');
    assert.equal((await svc.entities(identity).challenges(c.sid).fetch()).status, 'approved', 'the backend sees it');
    await until('the device is told it is over', () => stream.updates.some((u) => u.sid === c.sid && u.status === 'approved'));
    await until('the webhook', () => receiver.requests.some((r) => new URLSearchParams(r.body).get('type') === 'challenge.approved'));
    const hook = receiver.requests.find((r) => new URLSearchParams(r.body).get('type') === 'challenge.approved')!;
    const params = Object.fromEntries(new URLSearchParams(hook.body));
    assert.equal(twilio.validateRequest(acme.authToken, String(hook.headers['x-twilio-signature']), receiver.url, params), true);
    assert.equal(params.challenge_sid, c.sid);
    const types = receiver.requests.map((r) => new URLSearchParams(r.body).get('type'));
    assert.ok(types.includes('factor.created') && types.includes('factor.verified'), `factor events: ${types.join(', ')}`);
  } finally {
    await stream.stop();
  }
});

test('a challenge made while the device was away comes when it connects; a denial is seen as denied', async () => {
  const identity = 'acme-user-0002';
  const device = await phone();
  const factor = await device.enrolVerifyFactor((await token(identity)).token, { friendlyName: 'Work phone' });
  assert.equal(factor.friendly_name, 'Work phone');
  const c = await svc.entities(identity).challenges.create({ factorSid: factor.sid, 'details.message': 'Approve the transfer?' });
  const stream = await listening(device);
  try {
    await until('caught up on connect', () => stream.challenges.some((x) => x.sid === c.sid));
    assert.equal((await device.answerVerifyChallenge(stream.challenges[0], 'denied')).status, 'denied');
    assert.equal((await svc.entities(identity).challenges(c.sid).fetch()).status, 'denied');
    // Told again (Notifications) after it is over: refused; a new one is told at once.
    const again = await restError(svc.entities(identity).challenges(c.sid).notifications.create());
    assert.equal(again.code, 60324);
    const next = await svc.entities(identity).challenges.create({ factorSid: factor.sid, 'details.message': 'Second' });
    await svc.entities(identity).challenges(next.sid).notifications.create({ ttl: 60 });
    await until('the second one', () => stream.challenges.some((x) => x.sid === next.sid));
    assert.equal(stream.challenges.filter((x) => x.sid === next.sid).length, 1, 'shown once, though created and notified');
  } finally {
    await stream.stop();
  }
});

test('a device hears only of challenges of its own factors', async () => {
  const mine = await phone();
  const other = await phone();
  const f1 = await mine.enrolVerifyFactor((await token('acme-user-0003')).token);
  await other.enrolVerifyFactor((await token('acme-user-0004')).token);
  const s1 = await listening(mine);
  const s2 = await listening(other);
  try {
    const c = await svc.entities('acme-user-0003').challenges.create({ factorSid: f1.sid, 'details.message': 'Only mine' });
    await until('mine', () => s1.challenges.length === 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(s2.challenges.length, 0, 'the other device heard nothing');
    // The other device cannot answer it either: its key is not the factor's.
    const stolen = await other.answerVerifyChallenge(s1.challenges[0], 'approved').catch((e: { status: number }) => e);
    assert.equal((stolen as { status: number }).status, 401);
    assert.equal((await svc.entities('acme-user-0003').challenges(c.sid).fetch()).status, 'pending');
  } finally {
    await s1.stop();
    await s2.stop();
  }
});

test('a removed device (a lost phone) hears nothing more and its key answers nothing', async () => {
  const device = await phone();
  const factor = await device.enrolVerifyFactor((await token('acme-user-0012')).token);
  const before = await svc.entities('acme-user-0012').challenges.create({ factorSid: factor.sid, 'details.message': 'Before' });
  const heard = { sid: before.sid, factor_sid: factor.sid, identity: 'acme-user-0012', service_sid: va, account_sid: acme.sid };
  await device.unregister();
  // The key is still in the thief's hands: the Verify API no longer takes it.
  const refused = await device.answerVerifyChallenge(heard, 'approved').catch((e: { status: number }) => e);
  assert.equal((refused as { status: number }).status, 401);
  assert.equal((await svc.entities('acme-user-0012').challenges(before.sid).fetch()).status, 'pending');
  const published: unknown[] = [];
  const off = t.of.services.events.subscribe(device.id, (e) => published.push(e));
  try {
    await svc.entities('acme-user-0012').challenges.create({ factorSid: factor.sid, 'details.message': 'After' });
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(published, [], 'no event for a removed device');
  } finally {
    off();
  }
});

test('an access token is good once, even in a burst of twenty devices; expired, forged or Ed25519: refused', async () => {
  const at = await token('acme-user-0005');
  const devices = await Promise.all(Array.from({ length: 20 }, () => phone()));
  const results = await Promise.allSettled(devices.map((d) => d.enrolVerifyFactor(at.token)));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'one enrolment');
  for (const r of results) if (r.status === 'rejected') assert.ok(errorCode('60092')(r.reason), String(r.reason));
  assert.equal((await svc.entities('acme-user-0005').factors.list()).length, 1);

  const forged = at.token.slice(0, -4) + (at.token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  await assert.rejects(devices[0].enrolVerifyFactor(forged), errorCode('60092'));
  await assert.rejects(devices[0].enrolVerifyFactor('not-a-jwt'), errorCode('60092'));
  const ed = await phone('Ed25519');
  await assert.rejects(ed.enrolVerifyFactor((await token('acme-user-0006')).token), errorCode('60004'));

  const old = await token('acme-user-0007', { ttl: 60 });
  await t.store.db.updateTable('verify_access_tokens').set({ created_at: Date.now() - 61_000 }).where('sid', '=', old.sid).execute();
  await assert.rejects(devices[1].enrolVerifyFactor(old.token), errorCode('60092'));
  assert.equal((await restError(svc.accessTokens(old.sid).fetch())).status, 404, 'an expired token is gone');
});

test("Twilio's own SDK flow: create factor with HTTP Basic token:<access token>, only its identity and push, once", async () => {
  const at = await token('acme-user-0008', { factorFriendlyName: 'iPhone' });
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const form = { FactorType: 'push', 'Binding.Alg': 'ES256', 'Binding.PublicKey': publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), 'Config.AppId': 'com.acme.app', 'Config.NotificationPlatform': 'none' };
  const auth = { user: 'token', password: at.token };
  const path = (identity: string) => `/v2/Services/${va}/Entities/${identity}/Factors`;
  assert.equal((await raw(base, 'POST', path('acme-user-0009'), auth, form)).status, 404, "another identity's factors: not found");
  assert.equal((await raw(base, 'POST', path('acme-user-0008'), auth, { ...form, FactorType: 'totp' })).status, 400, 'only push');
  const made = await raw(base, 'POST', path('acme-user-0008'), auth, form);
  assert.equal(made.status, 201, made.text);
  assert.equal(made.json.friendly_name, 'iPhone');
  assert.equal(made.json.status, 'unverified', 'verified next by a JWT signed with its key, as Twilio does');
  const twice = await raw(base, 'POST', path('acme-user-0008'), auth, form);
  assert.equal(twice.status, 401);
  assert.equal(twice.json.code, 20003);
  assert.equal((await raw(base, 'GET', `${path('acme-user-0008')}/${made.json.sid}`, auth)).status, 401, 'the token reaches nothing else');
});

test('hostile enrolments: a clear device-API error (60092 or 60004) or a factor with a clean name, never a 5xx', async () => {
  const device = await phone();
  for (const v of NASTY) {
    await assert.rejects(device.enrolVerifyFactor(v), errorCode('60092'), `access_token ${v.slice(0, 12)}`);
    const r = await device.enrolVerifyFactor((await token('acme-user-0011')).token, { friendlyName: v }).catch((e: unknown) => e);
    if (r instanceof Error) assert.ok(errorCode('60004')(r), `${v.slice(0, 12)}: ${r}`);
    else assert.doesNotMatch((r as { friendly_name: string }).friendly_name, /[\u0000-\u001f\u007f]/);
  }
  await assert.rejects(device.enrolVerifyFactor(123 as unknown as string), errorCode('60004'));
});

test('access tokens: bad input gets Twilio error bodies; another account cannot fetch one', async () => {
  for (const [params, name] of [
    [{ identity: 'short', factorType: 'push' }, 'Identity'],
    [{ identity: 'acme-user-0010', factorType: 'totp' }, 'FactorType'],
    [{ identity: 'acme-user-0010', factorType: 'push', ttl: 30 }, 'Ttl'],
    [{ identity: 'acme-user-0010', factorType: 'push', ttl: 301 }, 'Ttl'],
  ] as const) {
    const e = await restError(svc.accessTokens.create(params as never));
    assert.equal(e.status, 400, name);
    assert.equal(e.code, 60200, name);
  }
  const at = await token('acme-user-0010');
  const other = await newAccount(t, 'Other');
  const e = await restError(verifyClient(base, other.sid, other.authToken).verify.v2.services(va).accessTokens(at.sid).fetch());
  assert.equal(e.status, 404);
  assert.equal(e.code, 20404);
});
