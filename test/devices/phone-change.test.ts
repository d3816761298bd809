// Phone change with a device in hand (issue 17): from a registered device, a code to the new
// number and another to the address on file; then every user of that number, in every
// application, moves to the new number with the same Authy ID. Webhooks (signatures checked)
// tell each application; a cancel, five wrong codes or a number taken change nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { codeIn, createUser, delivered } from '../support/tokens.ts';
import { webhookReceiver } from '../support/webhooks.ts';
import { errorCode, phoneDevice } from '../support/devices.ts';
import { OpenFactorDevice } from '../../sdk/device/src/index.ts';

const EVENTS = ['phone_change_requested', 'phone_change_pin_sent', 'user_phone_changed', 'phone_change_canceled'];

let t: TestApp;
let base: string;
let other: { id: number; apiKey: string };
let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
let otherHooks: Awaited<ReturnType<typeof webhookReceiver>>;
before(async () => {
  t = await startApp();
  base = await t.listen();
  other = await t.newApplication('Other Bank');
  hooks = await webhookReceiver(t, t.appId, EVENTS);
  otherHooks = await webhookReceiver(t, other.id, EVENTS);
});
after(async () => {
  await t.close();
  await hooks.close();
  await otherHooks.close();
});

const status = async (id: number, key = t.apiKey) => (await call(t.of.server, 'GET', `/protected/json/users/${id}/status`, { key })).json.status;

const deviceFor = async (number: string) => (await phoneDevice(t, base, number)).device;

test('a device moves its person to a new number in every application, keeping the Authy IDs', async () => {
  const here = await createUser(t, 'pc-move@example.com', '415-555-0401');
  const there = await createUser(t, 'pc-move-2@example.com', '415-555-0401', '1', other.apiKey);
  const device = await deviceFor('415-555-0401');

  const change = await device.requestPhoneChange({ countryCode: '351', phoneNumber: '912 345 101', via: 'sms' });
  assert.equal(change.secondsToExpire, 1800);
  const pinMsg = await delivered(t, '+351912345101');
  const pin = codeIn(pinMsg.text, 6);
  const emailCode = codeIn((await delivered(t, 'pc-move@example.com')).text, 6);
  assert.equal(codeIn((await delivered(t, 'pc-move-2@example.com')).text, 6), emailCode, 'every address on file gets the code');
  assert.equal((await status(here)).phone_number, 'XXX-XXX-0401', 'nothing changes before both codes');

  const wrong = (c: string) => (c === '000000' ? '111111' : '000000');
  await assert.rejects(device.confirmPhoneChange(change.id, { phoneCode: pin, emailCode: wrong(emailCode) }), errorCode('60040'));
  await assert.rejects(device.confirmPhoneChange(change.id, { phoneCode: wrong(pin), emailCode }), errorCode('60040'));
  await device.confirmPhoneChange(change.id, { phoneCode: pin, emailCode });
  // Each application's audit trail has the change, asked and done by the device, for its own user.
  for (const [appId, user] of [[t.appId, here], [other.id, there]] as const) {
    const steps = (await t.of.services.audit.search({ appId, action: 'phone_change.' }, 20)).rows.filter((e) => JSON.parse(e.target).phone_change === change.id);
    assert.deepEqual(steps.reverse().map((e) => [e.action, e.actor, JSON.parse(e.target).users]), [
      ['phone_change.requested', `device ${device.id}`, [user]],
      ['phone_change.completed', `device ${device.id}`, [user]],
    ]);
  }

  for (const [id, key] of [[here, t.apiKey], [there, other.apiKey]] as const) {
    const s = await status(id, key);
    assert.equal(s.authy_id, id, 'the same Authy ID');
    assert.equal(s.country_code, 351);
    assert.equal(s.phone_number, 'XX-XXX-5101');
  }
  // Codes now go to the new number.
  assert.match((await call(t.of.server, 'GET', `/protected/json/sms/${here}?force=true`, { key: t.apiKey })).json.cellphone, /^\+351-[X-]+01$/);
  const smsMsg = await delivered(t, '+351912345101', pinMsg.id);
  // A device registering with the new number finds the person (and waits for the old device's approval).
  const start = await OpenFactorDevice.startPhoneRegistration(base, { countryCode: '351', phoneNumber: '912345101', via: 'sms' });
  await t.of.services.devices.settled();
  const regCode = codeIn((await delivered(t, '+351912345101', smsMsg.id)).text, 6);
  const newPhone = await OpenFactorDevice.confirmPhoneRegistration(base, start.registrationId, regCode);
  assert.equal(newPhone.status, 'pending_approval');
  assert.deepEqual((await device.deviceRequests()).map((r) => r.id), [newPhone.id]);

  for (const [h, id] of [[hooks, here], [otherHooks, there]] as const) {
    const events = await h.waitFor('user_phone_changed');
    assert.equal(events[0].objects.user.s_authy_id, String(id));
    assert.equal((await h.waitFor('phone_change_requested'))[0].objects.phone_change.s_id, change.id);
    assert.equal((await h.waitFor('phone_change_pin_sent'))[0].objects.message.s_channel, 'sms');
  }
  assert.ok(!JSON.stringify(await hooks.received()).includes('912345101'), 'no number in a webhook');
});

test('a canceled change and five wrong codes change nothing; a number that is another user\'s is refused', async () => {
  const id = await createUser(t, 'pc-cancel@example.com', '415-555-0402');
  const device = await deviceFor('415-555-0402');
  const first = await device.requestPhoneChange({ countryCode: '1', phoneNumber: '415-555-0412', via: 'voice' });
  await device.cancelPhoneChange(first.id);
  await assert.rejects(device.confirmPhoneChange(first.id, { phoneCode: '123456', emailCode: '123456' }), errorCode('60039'));
  const canceled = await hooks.waitFor('phone_change_canceled');
  assert.ok(canceled.some((e) => e.objects.phone_change.s_id === first.id && e.objects.user.s_authy_id === String(id)));

  const second = await device.requestPhoneChange({ countryCode: '1', phoneNumber: '415-555-0412', via: 'sms' });
  for (let i = 0; i < 5; i++) await assert.rejects(device.confirmPhoneChange(second.id, { phoneCode: '99999' + i, emailCode: '99999' + i }), errorCode('60040'));
  await assert.rejects(device.confirmPhoneChange(second.id, { phoneCode: '123456', emailCode: '123456' }), errorCode('60039'), 'five wrong tries end the change');
  assert.equal((await status(id)).phone_number, 'XXX-XXX-0402');

  // The new number is another user's in this application: refused, nothing moves.
  await createUser(t, 'pc-taken@example.com', '415-555-0413');
  const lastMail = (await delivered(t, 'pc-cancel@example.com')).id; // the second change's
  const third = await device.requestPhoneChange({ countryCode: '1', phoneNumber: '415-555-0413', via: 'sms' });
  const pin = codeIn((await delivered(t, '+14155550413')).text, 6);
  const mail = await delivered(t, 'pc-cancel@example.com', lastMail);
  await assert.rejects(device.confirmPhoneChange(third.id, { phoneCode: pin, emailCode: codeIn(mail.text, 6) }), errorCode('60041'));
  assert.equal((await status(id)).phone_number, 'XXX-XXX-0402');
  // Another person's registered device cannot touch this change.
  await createUser(t, 'pc-stranger@example.com', '415-555-0403');
  const stranger = await deviceFor('415-555-0403');
  await assert.rejects(stranger.cancelPhoneChange(third.id), errorCode('60039'));
});
