// Support for lost phones from the admin API (issue 17): pending phone changes and account
// recoveries per application, cancelled by an administrator, started on a user's behalf, and a
// recovery's wait shortened only explicitly, with a reason.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { codeIn, createUser, delivered } from '../support/tokens.ts';
import { OpenFactorDevice, OpenFactorError } from '../../sdk/device/src/index.ts';

let t: TestApp;
let base: string;
before(async () => {
  t = await startApp(); // the default wait: 24 hours
  base = await t.listen();
});
after(() => t.close());

const admin = (method: string, path: string, json?: unknown) =>
  call(t.of.server, method, `/admin/applications/${path}`, { headers: { authorization: `Bearer ${t.config.adminToken}` }, ...(json === undefined ? {} : { json }) });
const errorCode = (code: string) => (e: unknown) => e instanceof OpenFactorError && e.code === code;
const e164 = (n: string) => `+1${n.replace(/\D/g, '')}`;

async function codesFor(number: string, email: string, lastSms?: string) {
  const sms = await delivered(t, e164(number), lastSms);
  return { phoneCode: codeIn(sms.text, 6), emailCode: codeIn((await delivered(t, email)).text, 6), smsId: sms.id };
}

test('an administrator sees a waiting recovery, and shortens its wait only with a reason', async () => {
  const number = '415-555-0601';
  const user = await createUser(t, 'sup-wait@example.com', number);
  const { id } = await OpenFactorDevice.startAccountRecovery(base, { countryCode: '1', phoneNumber: number, via: 'sms' });
  const device = await OpenFactorDevice.confirmAccountRecovery(base, id, await codesFor(number, 'sup-wait@example.com'), { name: 'Replacement' });
  assert.equal(device.status, 'pending_recovery');

  const listed = (await admin('GET', `${t.appId}/recoveries`)).json.recoveries;
  assert.equal(listed.length, 1);
  assert.deepEqual([listed[0].id, listed[0].kind, listed[0].status, listed[0].authy_ids, listed[0].device.name], [id, 'account_recovery', 'waiting', [user], 'Replacement']);
  assert.ok(Date.parse(listed[0].completes_at) > Date.now() + 23 * 3600_000, 'the default wait is a day');
  const other = await t.newApplication('Unrelated');
  assert.deepEqual((await admin('GET', `${other.id}/recoveries`)).json.recoveries, [], "another application's administrator sees nothing of it");
  assert.equal((await admin('POST', `${other.id}/recoveries/${id}/shorten`, { wait_seconds: 0, reason: 'x' })).status, 404);

  const noReason = await admin('POST', `${t.appId}/recoveries/${id}/shorten`, { wait_seconds: 0 });
  assert.equal(noReason.status, 400);
  assert.match(noReason.json.message, /reason/);
  assert.equal(await device.refreshStatus(), 'pending_recovery');
  const shortened = await admin('POST', `${t.appId}/recoveries/${id}/shorten`, { wait_seconds: 0, reason: 'identity checked by video call, ticket 4411' });
  assert.equal(shortened.status, 200, shortened.text);
  assert.equal(await device.refreshStatus(), 'active');
  assert.deepEqual(device.accounts.map((a) => a.authy_id), [user]);
  assert.deepEqual((await admin('GET', `${t.appId}/recoveries`)).json.recoveries, []);
});

test('an administrator starts a recovery on a user\'s behalf, and cancels recoveries and phone changes', async () => {
  const number = '415-555-0602';
  const user = await createUser(t, 'sup-start@example.com', number);
  const started = await admin('POST', `${t.appId}/users/${user}/account_recovery`);
  assert.equal(started.status, 200, started.text);
  const id = started.json.account_recovery.id as string;
  const codes = await codesFor(number, 'sup-start@example.com');
  const device = await OpenFactorDevice.confirmAccountRecovery(base, id, codes);
  assert.equal(device.status, 'pending_recovery');
  assert.equal((await admin('POST', `${t.appId}/recoveries/${id}/cancel`)).status, 200);
  await assert.rejects(device.refreshStatus(), errorCode('60087'), 'the waiting device is removed');
  assert.equal((await admin('POST', `${t.appId}/recoveries/${id}/cancel`)).status, 404, 'once');
  assert.equal((await admin('POST', `${t.appId}/users/99999999/account_recovery`)).status, 404);

  // A phone change from a device, canceled by support.
  const reg = await OpenFactorDevice.startPhoneRegistration(base, { countryCode: '1', phoneNumber: number, via: 'sms' });
  await t.of.services.devices.settled();
  const held = await OpenFactorDevice.confirmPhoneRegistration(base, reg.registrationId, codeIn((await delivered(t, e164(number), codes.smsId)).text, 6));
  const change = await held.requestPhoneChange({ countryCode: '1', phoneNumber: '415-555-0612', via: 'sms' });
  const pending = (await admin('GET', `${t.appId}/recoveries`)).json.recoveries;
  assert.deepEqual(pending.map((r: { id: string; kind: string; authy_ids: number[] }) => [r.id, r.kind, r.authy_ids]), [[change.id, 'phone_change', [user]]]);
  assert.equal((await admin('POST', `${t.appId}/recoveries/${change.id}/cancel`)).status, 200);
  await assert.rejects(held.confirmPhoneChange(change.id, { phoneCode: '123456', emailCode: '123456' }), errorCode('60039'));
});

test('a phone change without any device is listed as such (three days by default), and ends at once when support shortens it: the user is on the new number', async () => {
  const number = '415-555-0603';
  const user = await createUser(t, 'sup-newnumber@example.com', number);
  const { id } = await OpenFactorDevice.startAccountRecovery(base, { countryCode: '1', phoneNumber: number, via: 'sms', newNumber: { countryCode: '1', phoneNumber: '415-555-0613' } });
  await t.of.services.recoveries.settled();
  const codes = await codesFor(number, 'sup-newnumber@example.com');
  const newPhoneCode = codeIn((await delivered(t, '+14155550613')).text, 6);
  const device = await OpenFactorDevice.confirmAccountRecovery(base, id, { ...codes, newPhoneCode });
  const [listed] = (await admin('GET', `${t.appId}/recoveries`)).json.recoveries.filter((r: { id: string }) => r.id === id);
  assert.deepEqual([listed.kind, listed.status, listed.authy_ids], ['phone_change_without_device', 'waiting', [user]]);
  assert.ok(Date.parse(listed.completes_at) > Date.now() + 71 * 3600_000, 'the default wait is three days');

  const shortened = await admin('POST', `${t.appId}/recoveries/${id}/shorten`, { wait_seconds: 0, reason: 'both numbers checked with the carrier, ticket 4412' });
  assert.equal(shortened.status, 200, shortened.text);
  assert.equal(await device.refreshStatus(), 'active');
  const s = (await call(t.of.server, 'GET', `/protected/json/users/${user}/status`, { key: t.apiKey })).json.status;
  assert.equal(s.phone_number, 'XXX-XXX-0613');
});
