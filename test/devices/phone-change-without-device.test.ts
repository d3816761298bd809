// A phone change without any device (issue 17): a new number and no device in hand. It goes the
// way of an account recovery (the old number and the address on file proven, a waiting period the
// old devices hear of and may cancel), with the new number proven by a code of its own and a
// longer wait (here 6 s against the recovery's 1 s; 72 h against 24 h by default). At its end the
// new device holds the accounts and every user of the old number, in every application, has the
// new one with the same Authy ID. Webhooks are checked with their signatures.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { codeIn, createUser, delivered } from '../support/tokens.ts';
import { until } from '../support/wait.ts';
import { webhookReceiver } from '../support/webhooks.ts';
import { e164, errorCode, phoneDevice, recoveriesToldTo } from '../support/devices.ts';
import { OpenFactorDevice } from '../../sdk/device/src/index.ts';

const RECOVERY_WAIT_S = 1;
const CHANGE_WAIT_S = 6;
const EVENTS = ['account_recovery_started', 'account_recovery_approved', 'account_recovery_canceled', 'user_phone_changed'];
let t: TestApp;
let base: string;
let other: { id: number; apiKey: string };
let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
let otherHooks: Awaited<ReturnType<typeof webhookReceiver>>;
before(async () => {
  t = await startApp({ OPENFACTOR_ACCOUNT_RECOVERY_WAIT_S: String(RECOVERY_WAIT_S), OPENFACTOR_PHONE_CHANGE_WAIT_S: String(CHANGE_WAIT_S) });
  base = await t.listen();
  other = await t.newApplication('Other Shop');
  hooks = await webhookReceiver(t, t.appId, EVENTS);
  otherHooks = await webhookReceiver(t, other.id, EVENTS);
});
after(async () => {
  await t.close();
  await hooks.close();
  await otherHooks.close();
});

const status = async (id: number, key = t.apiKey) => (await call(t.of.server, 'GET', `/protected/json/users/${id}/status`, { key })).json.status;

const oldDevice = (number: string) => phoneDevice(t, base, number, 'Lost phone');

/** Starts the change from a new device and reads the three codes. */
async function startChange(oldNumber: string, newNumber: string, email: string, lastOld?: string, lastMail?: string) {
  const { id } = await OpenFactorDevice.startAccountRecovery(base, { countryCode: '1', phoneNumber: oldNumber, via: 'sms', newNumber: { countryCode: '1', phoneNumber: newNumber } });
  await t.of.services.recoveries.settled();
  const old = await delivered(t, e164(oldNumber), lastOld);
  const fresh = await delivered(t, e164(newNumber));
  const mail = await delivered(t, email, lastMail);
  return { id, phoneCode: codeIn(old.text, 6), newPhoneCode: codeIn(fresh.text, 6), emailCode: codeIn(mail.text, 6), mailId: mail.id, oldId: old.id };
}

test('old number, new number and address proven; after the longer wait the new device holds the accounts, on the new number, in every application', async () => {
  const oldNumber = '415-555-0601';
  const newNumber = '415-555-0611';
  const here = await createUser(t, 'pcx-move@example.com', oldNumber);
  const there = await createUser(t, 'pcx-move-2@example.com', oldNumber, '1', other.apiKey);
  const { device: lost, last } = await oldDevice(oldNumber);
  const { told, stop } = await recoveriesToldTo(lost);

  const c = await startChange(oldNumber, newNumber, 'pcx-move@example.com', last);
  const wrong = (x: string) => (x === '000000' ? '111111' : '000000');
  await assert.rejects(OpenFactorDevice.confirmAccountRecovery(base, c.id, { phoneCode: c.phoneCode, emailCode: c.emailCode }), errorCode('60048'), 'the new number must be proven too');
  await assert.rejects(
    OpenFactorDevice.confirmAccountRecovery(base, c.id, { phoneCode: c.phoneCode, emailCode: c.emailCode, newPhoneCode: wrong(c.newPhoneCode) }),
    errorCode('60048'),
  );
  const fresh = await OpenFactorDevice.confirmAccountRecovery(base, c.id, { phoneCode: c.phoneCode, emailCode: c.emailCode, newPhoneCode: c.newPhoneCode }, { name: 'New phone' });
  const startedAt = Date.now();
  assert.equal(fresh.status, 'pending_recovery');

  await until('the old device is told', async () => told.length > 0, 3000);
  await stop();
  assert.deepEqual(told.map((x) => [x.id, x.kind]), [[c.id, 'phone_change']]);
  const waiting = await lost.accountRecoveries();
  assert.deepEqual(waiting.map((x) => [x.id, x.kind]), [[c.id, 'phone_change']]);
  assert.ok(Date.parse(waiting[0].completes_at!) >= startedAt + CHANGE_WAIT_S * 1000 - 1000, 'the longer wait applies');

  // Past the recovery's wait, not yet the change's: nothing has moved.
  await new Promise((res) => setTimeout(res, RECOVERY_WAIT_S * 1000 + 300));
  assert.equal(await fresh.refreshStatus(), 'pending_recovery');
  assert.equal((await status(here)).phone_number, 'XXX-XXX-0601');
  assert.deepEqual((await lost.refreshAccounts()).map((a) => a.authy_id), [here, there]);

  await until('the change takes effect', async () => (await fresh.refreshStatus()) === 'active', CHANGE_WAIT_S * 1000 + 2000);
  assert.deepEqual(fresh.accounts.map((a) => a.authy_id).sort(), [here, there].sort(), 'the accounts came to the new device');
  await assert.rejects(lost.refreshAccounts(), errorCode('60087'), 'the old device stopped');
  for (const [id, key] of [[here, t.apiKey], [there, other.apiKey]] as const) {
    const s = await status(id, key);
    assert.equal(s.authy_id, id, 'the same Authy ID');
    assert.equal(s.phone_number, 'XXX-XXX-0611');
    assert.ok(s.last_account_recovery_at > 0);
  }
  // Codes now go to the new number.
  assert.match((await call(t.of.server, 'GET', `/protected/json/sms/${here}?force=true`, { key: t.apiKey })).json.cellphone, /^\+1-[X-]+11$/);

  for (const [h, id] of [[hooks, here], [otherHooks, there]] as const) {
    const started = (await h.waitFor('account_recovery_started')).find((e) => e.objects.account_recovery.s_id === c.id)!;
    assert.equal(started.objects.account_recovery.s_kind, 'phone_change');
    assert.equal(started.objects.user.s_authy_id, String(id));
    assert.ok((await h.waitFor('account_recovery_approved')).some((e) => e.objects.account_recovery.s_id === c.id));
    const moved = (await h.waitFor('user_phone_changed')).find((e) => e.objects.phone_change.s_id === c.id)!;
    assert.equal(moved.objects.user.s_authy_id, String(id));
  }
  assert.ok(!JSON.stringify(await hooks.received()).includes('5550611'), 'no number in a webhook');
});

test('a new number taken before the codes are confirmed is refused; one taken during the wait cancels the change; nothing moves', async () => {
  const oldNumber = '415-555-0602';
  const here = await createUser(t, 'pcx-taken@example.com', oldNumber);
  const { device: kept, last } = await oldDevice(oldNumber);
  await createUser(t, 'pcx-owner@example.com', '415-555-0612');
  const first = await startChange(oldNumber, '415-555-0612', 'pcx-taken@example.com', last);
  await assert.rejects(
    OpenFactorDevice.confirmAccountRecovery(base, first.id, { phoneCode: first.phoneCode, emailCode: first.emailCode, newPhoneCode: first.newPhoneCode }),
    errorCode('60041'),
  );

  const second = await startChange(oldNumber, '415-555-0613', 'pcx-taken@example.com', first.oldId, first.mailId);
  const intruder = await OpenFactorDevice.confirmAccountRecovery(base, second.id, { phoneCode: second.phoneCode, emailCode: second.emailCode, newPhoneCode: second.newPhoneCode });
  await createUser(t, 'pcx-late@example.com', '415-555-0613'); // someone takes the number meanwhile
  const canceled = await until(
    'the change ends canceled',
    async () => (await hooks.received()).some((e) => e.event === 'account_recovery_canceled' && e.objects.account_recovery.s_id === second.id),
    CHANGE_WAIT_S * 1000 + 4000,
  );
  assert.ok(canceled);
  await assert.rejects(intruder.refreshStatus(), errorCode('60087'), 'the new device was removed');
  assert.deepEqual((await kept.refreshAccounts()).map((a) => a.authy_id), [here], 'the old device keeps working');
  const s = await status(here);
  assert.equal(s.phone_number, 'XXX-XXX-0602');
  assert.equal(s.last_account_recovery_at, null);
});

test('bad new numbers get clear errors before anything is sent', async () => {
  const start = (newNumber: { countryCode: string; phoneNumber: string }) =>
    OpenFactorDevice.startAccountRecovery(base, { countryCode: '1', phoneNumber: '415-555-0603', via: 'sms', newNumber });
  await assert.rejects(start({ countryCode: '1', phoneNumber: '415-555-0603' }), errorCode('60004'), 'the same number');
  await assert.rejects(start({ countryCode: '1', phoneNumber: '12' }), errorCode('60033'));
  await assert.rejects(start({ countryCode: 'x', phoneNumber: '415-555-0604' }), errorCode('60033'));
});
