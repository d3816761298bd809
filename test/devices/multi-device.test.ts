// Multi-device (issue 17): a person's "allow new devices" switch, changed only from a registered
// device; a new device by phone refused while it is off, and approved (signed) by an existing
// device while it is on; listing and removing the person's other devices. Through the device SDK.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { codeIn, createUser, delivered, verifyUrl } from '../support/tokens.ts';
import { registerDevice } from '../support/onetouch.ts';
import { OpenFactorDevice, OpenFactorError, type DeviceRequest } from '../../sdk/device/src/index.ts';

let t: TestApp;
let base: string;
before(async () => {
  t = await startApp();
  base = await t.listen();
});
after(() => t.close());

const errorCode = (code: string) => (e: unknown) => e instanceof OpenFactorError && e.code === code;
const status = async (id: number) => (await call(t.of.server, 'GET', `/protected/json/users/${id}/status`, { key: t.apiKey })).json.status;

/** Registers a device by phone: the code from the SMS sent after `last` (the previous message to that number). */
async function byPhone(number: string, name: string, last?: string) {
  const start = await OpenFactorDevice.startPhoneRegistration(base, { countryCode: '1', phoneNumber: number, via: 'sms' });
  await t.of.services.devices.settled();
  const msg = await delivered(t, `+1${number.replace(/\D/g, '')}`, last);
  return { confirm: () => OpenFactorDevice.confirmPhoneRegistration(base, start.registrationId, codeIn(msg.text, 6), { name, osType: 'ios' }), msg: msg.id };
}

test('the first device by phone joins at once; with the switch off another is refused, pointing to account recovery', async () => {
  const number = '415-555-0201';
  const user = await createUser(t, 'md-first@example.com', number);
  const first = await byPhone(number, 'Old phone');
  const a = await first.confirm();
  assert.equal(a.status, 'active');
  assert.deepEqual(a.accounts.map((x) => x.authy_id), [user]);
  const listed = await a.devices();
  assert.equal(listed.allowNewDevices, true, 'new devices are allowed until the person turns it off');
  assert.deepEqual(listed.devices.map((d) => [d.id, d.name, d.status, d.this_device]), [[a.id, 'Old phone', 'active', true]]);

  await a.setAllowNewDevices(false);
  assert.equal((await a.devices()).allowNewDevices, false);
  const second = await byPhone(number, 'New phone', first.msg);
  await assert.rejects(second.confirm(), (e: unknown) => {
    assert.ok(e instanceof OpenFactorError);
    assert.equal(e.status, 403);
    assert.equal(e.code, '60043');
    assert.match(e.message, /account recovery/);
    return true;
  });
  assert.equal((await a.devices()).devices.length, 1, 'nothing was registered');
  // Only a registered device changes the switch: an unsigned call is refused.
  const unsigned = await fetch(`${base}/device/v1/settings`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"allow_new_devices":true}' });
  assert.equal(unsigned.status, 401);
  assert.equal((await a.devices()).allowNewDevices, false);
});

test('with the switch on, a new device by phone waits for a signed approval from an existing one, then holds the accounts', async () => {
  const number = '415-555-0202';
  const user = await createUser(t, 'md-approve@example.com', number);
  const first = await byPhone(number, 'Old phone');
  const a = await first.confirm();

  // The old device hears of the new one on its event stream.
  const heard: { id: number; name: string }[] = [];
  const stop = new AbortController();
  let opened!: () => void;
  const open = new Promise<void>((r) => (opened = r));
  const listening = a.listen(() => {}, { signal: stop.signal, onOpen: () => opened(), onDeviceRequest: (r) => heard.push(r) });
  await open;

  const second = await byPhone(number, 'New phone', first.msg);
  const b = await second.confirm();
  assert.equal(b.status, 'pending_approval');
  assert.equal(b.accounts.length, 0, 'no accounts before an approval');
  await assert.rejects(b.refreshAccounts(), errorCode('60044'));
  await assert.rejects(b.pendingApprovals(), errorCode('60044'));
  assert.equal(await b.refreshStatus(), 'pending_approval');
  assert.equal((await status(user)).detailed_devices.length, 1, 'the user status shows the old device only');

  for (let i = 0; i < 50 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  stop.abort();
  await listening;
  assert.deepEqual(heard.map((r) => [r.id, r.name]), [[b.id, 'New phone']]);

  const requests = await a.deviceRequests();
  assert.deepEqual(requests.map((r) => [r.id, r.public_key]), [[b.id, b.publicKey]]);
  // A signature over another key (or none) is refused; the request stays.
  const forged: DeviceRequest = { ...requests[0], public_key: a.publicKey };
  await assert.rejects(a.approveDevice(forged), errorCode('60087'));
  // The pending device cannot answer for itself.
  await assert.rejects(b.deviceRequests(), errorCode('60044'));

  await a.approveDevice(requests[0]);
  assert.equal(await b.refreshStatus(), 'active');
  assert.deepEqual(b.accounts.map((x) => x.authy_id), [user]);
  const code = await b.code(user);
  assert.equal((await call(t.of.server, 'GET', verifyUrl(code, user), { key: t.apiKey })).json.token, 'is valid', "the new device's code verifies");
  assert.equal((await status(user)).detailed_devices.length, 2);
  await assert.rejects(a.approveDevice(requests[0]), errorCode('60045'), 'answered once');
  const kept = await t.store.db.selectFrom('device_keys').select(['approved_by', 'approval_signature']).where('id', '=', b.id).executeTakeFirstOrThrow();
  assert.equal(kept.approved_by, a.id);
  assert.ok(kept.approval_signature, 'the approval signature is kept');
});

test('a denied device is gone; a device lists and removes the person\'s other devices, never another person\'s', async () => {
  const number = '415-555-0203';
  const user = await createUser(t, 'md-deny@example.com', number);
  // An SDK-registered device (by the customer's backend) counts as the person's device too.
  const sdk = await registerDevice(t, base, user);
  const first = await byPhone(number, 'Intruder');
  const c = await first.confirm();
  assert.equal(c.status, 'pending_approval', 'the SDK device must approve it');
  const [request] = await sdk.deviceRequests();
  await sdk.denyDevice(request);
  await assert.rejects(c.refreshStatus(), errorCode('60087'), 'a denied device stops working');

  const second = await byPhone(number, 'Tablet', first.msg);
  const d = await second.confirm();
  await sdk.approveDevice((await sdk.deviceRequests())[0]);
  assert.equal(await d.refreshStatus(), 'active');
  assert.deepEqual((await d.devices()).devices.map((x) => [x.id, x.this_device]), [[sdk.id, false], [d.id, true]]);

  // Another person's device cannot be seen or removed.
  await createUser(t, 'md-other@example.com', '415-555-0204');
  const stranger = await (await byPhone('415-555-0204', 'Stranger')).confirm();
  await assert.rejects(d.removeDevice(stranger.id), errorCode('60045'));
  await assert.rejects(d.removeDevice(d.id), errorCode('60045'), 'a device leaves with unregister, not here');
  assert.equal(await stranger.refreshStatus(), 'active');

  // The tablet removes the lost SDK phone.
  await d.removeDevice(sdk.id);
  await assert.rejects(sdk.refreshAccounts(), errorCode('60087'));
  const s = await status(user);
  assert.equal(s.detailed_devices.length, 1);
  assert.equal(s.deleted_devices.length, 1);
});
