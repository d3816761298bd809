// Account recovery without any device (issue 17), through the device SDK: the phone and the
// address on file proven, then a waiting period (2 s here, set by the operator; 24 h by default)
// that the existing devices hear of and may cancel and that nothing shortens; then the new device
// holds the accounts and the old ones stop. Webhooks (signatures checked) and user status tell
// the application; an unknown number answers the same and gets nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { codeIn, createUser, delivered, verifyUrl } from '../support/tokens.ts';
import { webhookReceiver } from '../support/webhooks.ts';
import { e164, errorCode, phoneDevice, recoveriesToldTo } from '../support/devices.ts';
import { OpenFactorDevice } from '../../sdk/device/src/index.ts';

const WAIT_S = 2;
let t: TestApp;
let base: string;
let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
before(async () => {
  t = await startApp({ OPENFACTOR_ACCOUNT_RECOVERY_WAIT_S: String(WAIT_S) });
  base = await t.listen();
  hooks = await webhookReceiver(t, t.appId, ['account_recovery_started', 'account_recovery_approved', 'account_recovery_canceled']);
});
after(async () => {
  await t.close();
  await hooks.close();
});

const status = async (id: number) => (await call(t.of.server, 'GET', `/protected/json/users/${id}/status`, { key: t.apiKey })).json.status;

const oldDevice = (number: string) => phoneDevice(t, base, number, 'Lost phone');

/** Starts a recovery from a new device and reads both codes (the SMS after `lastSms`, the email after `lastMail`). */
async function startRecovery(number: string, email: string, lastSms?: string, lastMail?: string) {
  const { id, secondsToExpire } = await OpenFactorDevice.startAccountRecovery(base, { countryCode: '1', phoneNumber: number, via: 'sms' });
  assert.equal(secondsToExpire, 600);
  const sms = await delivered(t, e164(number), lastSms);
  const mail = await delivered(t, email, lastMail);
  return { id, phoneCode: codeIn(sms.text, 6), emailCode: codeIn(mail.text, 6), smsId: sms.id, mailId: mail.id };
}

test('with both codes the new device waits, the old one is told; after the wait the new device holds the accounts and the old one stops', async () => {
  const number = '415-555-0501';
  const user = await createUser(t, 'ar-user@example.com', number);
  const { device: lost, last } = await oldDevice(number);
  const { told, stop } = await recoveriesToldTo(lost);

  const r = await startRecovery(number, 'ar-user@example.com', last);
  const wrong = (c: string) => (c === '000000' ? '111111' : '000000');
  await assert.rejects(OpenFactorDevice.confirmAccountRecovery(base, r.id, { phoneCode: r.phoneCode, emailCode: wrong(r.emailCode) }), errorCode('60048'));
  const fresh = await OpenFactorDevice.confirmAccountRecovery(base, r.id, { phoneCode: r.phoneCode, emailCode: r.emailCode }, { name: 'New phone' });
  const startedAt = Date.now();
  assert.equal(fresh.status, 'pending_recovery');
  assert.equal(fresh.accounts.length, 0);
  await assert.rejects(fresh.refreshAccounts(), errorCode('60044'));
  await assert.rejects(OpenFactorDevice.confirmAccountRecovery(base, r.id, { phoneCode: r.phoneCode, emailCode: r.emailCode }), errorCode('60046'), 'the codes are used up');

  for (let i = 0; i < 50 && told.length === 0; i++) await new Promise((res) => setTimeout(res, 20));
  await stop();
  assert.deepEqual(told.map((x) => [x.id, x.device.name]), [[r.id, 'New phone']]);
  const waiting = await lost.accountRecoveries();
  assert.deepEqual(waiting.map((x) => x.id), [r.id]);
  assert.ok(Date.parse(waiting[0].completes_at!) >= startedAt + WAIT_S * 1000 - 1000);
  assert.deepEqual(await lost.deviceRequests(), [], 'a recovery is not a request another device may approve');
  assert.equal(await fresh.refreshStatus(), 'pending_recovery', 'nothing shortens the wait');
  assert.equal((await status(user)).last_account_recovery_at, null);

  await new Promise((res) => setTimeout(res, WAIT_S * 1000 + 200));
  assert.equal(await fresh.refreshStatus(), 'active');
  assert.deepEqual(fresh.accounts.map((a) => a.authy_id), [user], 'the accounts came to the new device');
  await assert.rejects(lost.refreshAccounts(), errorCode('60087'), 'the old device stopped');
  const s = await status(user);
  assert.ok(Math.abs(s.last_account_recovery_at - Date.now() / 1000) < 10, 'user status shows when');
  assert.deepEqual(s.detailed_devices.map((d: { device_id: number }) => d.device_id).length, 1);
  const verified = await call(t.of.server, 'GET', verifyUrl(await fresh.code(user), user), { key: t.apiKey });
  assert.equal(verified.json.token, 'is valid');
  assert.equal(verified.json.device.last_account_recovery_at, s.last_account_recovery_at, 'and so does the verify answer');

  const started = await hooks.waitFor('account_recovery_started');
  assert.equal(started[0].objects.user.s_authy_id, String(user));
  assert.equal(started[0].objects.account_recovery.s_id, r.id);
  const approved = await hooks.waitFor('account_recovery_approved');
  assert.equal(approved[0].objects.device.i_id, fresh.id);
  // The audit trail has each step and who took it: the new device asked and proved the codes, the service ended the wait.
  assert.deepEqual(await stepsOf(r.id), [
    ['recovery.requested', 'device', [user]],
    ['recovery.waiting', 'device', [user]],
    ['recovery.completed', 'service', [user]],
  ]);
});

/** The audit trail's entries of one recovery, oldest first: action, who, which users. */
async function stepsOf(recovery: string) {
  const rows = (await t.of.services.audit.search({ appId: t.appId, action: 'recovery.' }, 100)).rows.filter((e) => JSON.parse(e.target).account_recovery === recovery);
  return rows.reverse().map((e) => [e.action, e.actor_kind, JSON.parse(e.target).users]);
}

test('an existing device cancels a recovery it did not ask for: the new device is removed, the old one keeps working', async () => {
  const number = '415-555-0502';
  const user = await createUser(t, 'ar-cancel@example.com', number);
  const { device: kept, last } = await oldDevice(number);
  const r = await startRecovery(number, 'ar-cancel@example.com', last);
  const intruder = await OpenFactorDevice.confirmAccountRecovery(base, r.id, { phoneCode: r.phoneCode, emailCode: r.emailCode });
  await assert.rejects(intruder.cancelAccountRecovery(r.id), errorCode('60044'), 'the waiting device cannot act');
  await kept.cancelAccountRecovery(r.id);
  await new Promise((res) => setTimeout(res, WAIT_S * 1000 + 200));
  await assert.rejects(intruder.refreshStatus(), errorCode('60087'));
  assert.deepEqual((await kept.refreshAccounts()).map((a) => a.authy_id), [user]);
  const canceled = await hooks.waitFor('account_recovery_canceled');
  assert.ok(canceled.some((e) => e.objects.account_recovery.s_id === r.id));
  assert.equal((await status(user)).last_account_recovery_at, null);
  assert.deepEqual(await stepsOf(r.id), [
    ['recovery.requested', 'device', [user]],
    ['recovery.waiting', 'device', [user]],
    ['recovery.canceled', 'device', [user]],
  ]);
});

test('an unknown number: the same answers, no message; five wrong tries end any recovery', async () => {
  const before = (await t.of.services.outbox.recent({ limit: 500 })).length;
  const unknown = await OpenFactorDevice.startAccountRecovery(base, { countryCode: '1', phoneNumber: '415-555-0509', via: 'sms' });
  assert.match(unknown.id, /^[0-9a-f-]{36}$/);
  await t.of.services.recoveries.settled(); // the work after the answer is done
  assert.equal((await t.of.services.outbox.recent({ limit: 500 })).length, before, 'nothing sent');
  assert.equal((await t.store.db.selectFrom('account_recoveries').select('id').where('id', '=', unknown.id).execute()).length, 0, 'nothing stored');
  for (let i = 0; i < 5; i++) await assert.rejects(OpenFactorDevice.confirmAccountRecovery(base, unknown.id, { phoneCode: '12345' + i, emailCode: '12345' + i }), errorCode('60048'));
  await assert.rejects(OpenFactorDevice.confirmAccountRecovery(base, unknown.id, { phoneCode: '123456', emailCode: '123456' }), errorCode('60046'));
  await assert.rejects(OpenFactorDevice.confirmAccountRecovery(base, '00000000-0000-0000-0000-000000000000', { phoneCode: '1', emailCode: '1' }), errorCode('60046'), 'an id never given out');

  const number = '415-555-0503';
  await createUser(t, 'ar-five@example.com', number);
  const r = await startRecovery(number, 'ar-five@example.com');
  for (let i = 0; i < 5; i++) await assert.rejects(OpenFactorDevice.confirmAccountRecovery(base, r.id, { phoneCode: r.phoneCode, emailCode: '99999' + i }), errorCode('60048'));
  await assert.rejects(OpenFactorDevice.confirmAccountRecovery(base, r.id, { phoneCode: r.phoneCode, emailCode: r.emailCode }), errorCode('60046'), 'the right codes come too late');
});
