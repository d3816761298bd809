// Web Push to browser devices: an approval request reaches a subscribed device through a push
// service speaking RFC 8030/8291/8292 (VAPID-signed, payload encrypted for that browser only);
// a subscription the service reports gone is dropped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PHONES, startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { codeIn, createUser, delivered } from '../support/tokens.ts';
import { approvalStatus, createApproval } from '../support/onetouch.ts';
import { until } from '../support/wait.ts';
import { FakePushService } from '../support/fakes/push-service.ts';
import { OpenFactorDevice } from '../../sdk/device/src/index.ts';
import { newAccount, verifyClient } from '../support/verify.ts';

let t: TestApp;
let base: string;
let push: FakePushService;
before(async () => {
  push = await new FakePushService().start();
  t = await startApp({ OPENFACTOR_PUSH_CA_FILE: push.caFile, OPENFACTOR_VAPID_SUBJECT: 'mailto:security@bank.example' });
  base = await t.listen();
});
after(async () => {
  await t.close();
  await push.close();
});

test('a browser device registered with a push subscription is notified of a new request; the payload is encrypted to it', async () => {
  const id = await createUser(t, 'browser@example.com', PHONES.us[0]);
  const vapid = await OpenFactorDevice.vapidPublicKey(base);
  assert.match(vapid, /^[A-Za-z0-9_-]{87}$/); // an uncompressed P-256 point
  const sub = push.subscribe();
  const token = (await call(t.of.server, 'POST', '/protected/json/sdk/registrations', { key: t.apiKey, form: `authy_id=${id}` })).json.registration_token;
  const device = await OpenFactorDevice.registerWithToken(base, token, { osType: 'chrome', pushSubscription: sub });

  const r = await createApproval(t, id, { message: 'Sign in from Firefox' });
  const uuid = r.json.approval_request.uuid;
  const got = await until('the push arrives', () => push.delivered.find((d) => d.payload.uuid === uuid));
  assert.deepEqual(got.payload, { type: 'approval_request', uuid, app_name: 'Test Bank', message: 'Sign in from Firefox' });
  assert.equal(got.vapidSubject, 'mailto:security@bank.example');
  assert.equal(got.urgency, 'high');
  assert.deepEqual(push.refused, []);
  await until('notified', async () => (await approvalStatus(t, uuid)).json.approval_request.notified === true);
  // The device then reads the request over its signed API and answers.
  const shown = (await device.pendingApprovals()).find((a) => a.uuid === uuid)!;
  await device.approve(shown);
  assert.equal((await approvalStatus(t, uuid)).json.approval_request.status, 'approved');
});

test('a subscription the push service reports gone (410) is dropped', async () => {
  const id = await createUser(t, 'gone@example.com', PHONES.us[1]);
  const sub = push.subscribe();
  const token = (await call(t.of.server, 'POST', '/protected/json/sdk/registrations', { key: t.apiKey, form: `authy_id=${id}` })).json.registration_token;
  const device = await OpenFactorDevice.registerWithToken(base, token, { osType: 'chrome', pushSubscription: sub });
  push.status.set(new URL(sub.endpoint).pathname, 410);
  await createApproval(t, id, { message: 'nobody home' });
  await until('the subscription is dropped', async () => {
    const row = await t.store.db.selectFrom('device_keys').select('push_subscription_sealed').where('id', '=', device.id).executeTakeFirstOrThrow();
    return row.push_subscription_sealed === null;
  });
});

test('the VAPID keys persist: a second server on the same database announces the same public key', async () => {
  const first = await OpenFactorDevice.vapidPublicKey(base);
  const row = await t.store.db.selectFrom('meta').select('value').where('key', '=', 'vapid_private_key').executeTakeFirstOrThrow();
  assert.match(row.value, /^v2\./, 'the private key is sealed at rest');
  const { loadVapidKeys } = await import('../../src/features/devices/push.ts');
  const again = await loadVapidKeys(t.store.db, t.config.masterKeys, {});
  assert.equal(again.publicKey, first);
});

test('a subscribed device hears by Web Push of a new device waiting for its approval and of an account recovery (issue 17)', async () => {
  const number = '415-555-0801';
  await createUser(t, 'pushed-person@example.com', number);
  const byPhone = async (last?: string) => {
    const start = await OpenFactorDevice.startPhoneRegistration(base, { countryCode: '1', phoneNumber: number, via: 'sms' });
    await t.of.services.devices.settled();
    const msg = await delivered(t, '+14155550801', last);
    return { start, msg };
  };
  const first = await byPhone();
  const sub = push.subscribe();
  await OpenFactorDevice.confirmPhoneRegistration(base, first.start.registrationId, codeIn(first.msg.text, 6), { pushSubscription: sub, name: 'Old phone' });

  const second = await byPhone(first.msg.id);
  const newcomer = await OpenFactorDevice.confirmPhoneRegistration(base, second.start.registrationId, codeIn(second.msg.text, 6), { name: 'Tablet' });
  assert.equal(newcomer.status, 'pending_approval');
  const asked = await until('the device request pushed', () => push.delivered.find((d) => d.payload.type === 'device_request' && d.payload.id === newcomer.id));
  assert.equal(asked.payload.name, 'Tablet');

  const { id } = await OpenFactorDevice.startAccountRecovery(base, { countryCode: '1', phoneNumber: number, via: 'sms' });
  const phoneCode = codeIn((await delivered(t, '+14155550801', second.msg.id)).text, 6);
  const emailCode = codeIn((await delivered(t, 'pushed-person@example.com')).text, 6);
  await OpenFactorDevice.confirmAccountRecovery(base, id, { phoneCode, emailCode });
  const told = await until('the recovery pushed', () => push.delivered.find((d) => d.payload.type === 'account_recovery' && d.payload.id === id));
  assert.equal(told.payload.status, 'waiting');
  assert.deepEqual(push.refused, []);
});

test('a browser device that enrolled a Twilio Verify push factor is told of its challenges by Web Push (again on Notifications), without their hidden details', async () => {
  const id = await createUser(t, 'verify-push@example.com', PHONES.us[2]);
  const sub = push.subscribe();
  const token = (await call(t.of.server, 'POST', '/protected/json/sdk/registrations', { key: t.apiKey, form: `authy_id=${id}` })).json.registration_token;
  const device = await OpenFactorDevice.registerWithToken(base, token, { osType: 'chrome', pushSubscription: sub });
  const acme = await newAccount(t);
  const client = verifyClient(base, acme.sid, acme.authToken);
  const va = (await client.verify.v2.services.create({ friendlyName: 'Acme' })).sid;
  const svc = client.verify.v2.services(va);
  const factor = await device.enrolVerifyFactor((await svc.accessTokens.create({ identity: 'browser-user-1', factorType: 'push' })).token);
  const c = await svc.entities('browser-user-1').challenges.create({ factorSid: factor.sid, 'details.message': 'Sign in to Acme', hiddenDetails: { ip: '192.0.2.9' } });
  const got = await until('the push arrives', () => push.delivered.find((d) => d.payload.sid === c.sid));
  assert.deepEqual(got.payload, { type: 'verify_challenge', sid: c.sid, service_sid: va, service_name: 'Acme', identity: 'browser-user-1', message: 'Sign in to Acme' });
  await svc.entities('browser-user-1').challenges(c.sid).notifications.create();
  await until('told again', () => push.delivered.filter((d) => d.payload.sid === c.sid).length === 2);
});
