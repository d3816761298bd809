// The lost-phone flows of issue 17 in the authenticator web app, in headless Chromium: a person
// adds the browser with new devices turned off and on, approves and removes devices from it,
// changes their number with it, cancels a recovery they did not ask for, recovers without any
// device (and changes number without any device) in a fresh browser, and prints recovery codes
// where the application allows it. Each step is checked on the server (device status, user
// status, verify) and in the signed webhooks, not only on the page. The waits are the operator's
// setting, shortened here to seconds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { accessibleAtBothSizes, launchBrowser, noBrowser } from '../support/browser.ts';
import { e164, errorCode, phoneDevice } from '../support/devices.ts';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { appToken, codeIn, createUser, delivered, verifyUrl } from '../support/tokens.ts';
import { until } from '../support/wait.ts';
import { webhookReceiver } from '../support/webhooks.ts';
import { OpenFactorDevice } from '../../sdk/device/src/index.ts';

const skip = noBrowser;
const RECOVERY_WAIT_S = 3;
const CHANGE_WAIT_S = 4;
const FIRST = '415-555-0701';
const SECOND = '415-555-0711';
const THIRD = '415-555-0721';
const EMAIL = 'lp-user@example.com';
const EVENTS = ['user_phone_changed', 'account_recovery_started', 'account_recovery_approved', 'account_recovery_canceled'];

let t: TestApp;
let base: string;
let browser: Browser;
let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
let user: number;
/** The person's phone, registered with the SDK before the browser. */
let phone: OpenFactorDevice;
/** The browser that becomes the person's device in the first test. */
let page: Page;
const dialogs: string[] = [];

before(async () => {
  if (skip) return;
  t = await startApp({ OPENFACTOR_ACCOUNT_RECOVERY_WAIT_S: String(RECOVERY_WAIT_S), OPENFACTOR_PHONE_CHANGE_WAIT_S: String(CHANGE_WAIT_S) });
  base = await t.listen();
  hooks = await webhookReceiver(t, t.appId, EVENTS);
  user = await createUser(t, EMAIL, FIRST);
  const first = await phoneDevice(t, base, FIRST, 'Pixel');
  phone = first.device;
  lastRead.set(e164(FIRST), first.last);
  browser = await launchBrowser();
  page = await newPage();
});
after(async () => {
  if (skip) return;
  await browser.close();
  await t.close();
  await hooks.close();
});

/** A page in a browser profile of its own (its own IndexedDB: another device). */
async function newPage(): Promise<Page> {
  const p = await (await browser.newContext()).newPage();
  p.on('dialog', (d) => {
    if (d.type() !== 'confirm') dialogs.push(`${d.type()}: ${d.message()}`);
    void (d.type() === 'confirm' ? d.accept() : d.dismiss());
  });
  await p.goto(`${base}/authenticator/`);
  return p;
}

const status = async () => (await call(t.of.server, 'GET', `/protected/json/users/${user}/status`, { key: t.apiKey })).json.status;
const verify = (code: string, id = user, key = t.apiKey) => call(t.of.server, 'GET', verifyUrl(code, id), { key });
/**
 * Whether the page shows the user's code now: the same TOTP the server computes from the user's
 * seed (a verify would use the code up, and every device of the person shows the same one).
 */
async function showsUsersCode(p: Page, appName = 'Test Bank', id = user): Promise<boolean> {
  const shown = await codeOn(p, appName);
  const expected = await Promise.all([-1, 0, 1].map((step) => appToken(t, id, shown.length, step)));
  return expected.includes(shown);
}
const codeOn = async (p: Page, appName: string) => {
  const code = p.locator('.account', { hasText: appName }).locator('.code').filter({ hasText: /^\d{6,8}$/ });
  await code.waitFor({ timeout: 15_000 });
  return (await code.textContent())!.trim();
};
/** The last message read per destination: the next read waits for a newer one. */
const lastRead = new Map<string, string>();
/** The code in the next message to `to` (a number or an address). */
async function codeTo(to: string): Promise<string> {
  const m = await delivered(t, to, lastRead.get(to));
  lastRead.set(to, m.id);
  return codeIn(m.text, 6);
}
const emailCode = () => codeTo(EMAIL);

async function addByPhone(p: Page, number: string) {
  await p.fill('input[name=phone_number]', number);
  await p.click('button:text("Send code")');
  await p.fill('input[name=code]', await codeTo(e164(number)));
  await p.click('button:text("Add this browser")');
}

test('added by phone: refused while new devices are off (with the way to recovery), then waits for the phone to approve it', { skip }, async () => {
  await phone.setAllowNewDevices(false);
  await addByPhone(page, FIRST);
  await page.waitForSelector('.error');
  assert.match((await page.textContent('.error'))!, /not allowed/i);
  assert.ok(await page.locator('.error button:text("Recover your account")').isVisible(), 'the refusal points to account recovery');
  await accessibleAtBothSizes(page, 'not added (new devices are off)');

  await phone.setAllowNewDevices(true);
  await page.reload();
  await addByPhone(page, FIRST);
  await page.waitForSelector('h1:text("Waiting for approval")');
  await accessibleAtBothSizes(page, 'waiting for approval');
  const [request] = await until('the phone hears of the browser', async () => (await phone.deviceRequests()).filter((r) => r.name === 'Web authenticator'));
  await phone.approveDevice(request);
  assert.equal((await verify(await codeOn(page, 'Test Bank'))).status, 200, 'the approved browser shows codes that verify');
});

test('the browser approves a new device, turns new devices off, and removes a lost one', { skip }, async () => {
  await page.waitForSelector('#connection.live');
  const start = await OpenFactorDevice.startPhoneRegistration(base, { countryCode: '1', phoneNumber: FIRST, via: 'sms' });
  await t.of.services.devices.settled();
  const tablet = await OpenFactorDevice.confirmPhoneRegistration(base, start.registrationId, await codeTo(e164(FIRST)), { name: 'Tablet' });
  assert.equal(tablet.status, 'pending_approval');
  const card = page.locator('#device-requests .request', { hasText: 'Tablet' });
  await card.waitFor();
  await accessibleAtBothSizes(page, 'a new device waiting for approval');
  await card.locator('button:text("Approve")').click();
  await card.waitFor({ state: 'detached' });
  assert.equal(await tablet.refreshStatus(), 'active');
  await page.locator('#devices .row', { hasText: 'Tablet' }).waitFor();

  await page.locator('input[name=allow_new_devices]').uncheck();
  await page.waitForSelector('text=New devices are turned off.');
  const again = await OpenFactorDevice.startPhoneRegistration(base, { countryCode: '1', phoneNumber: FIRST, via: 'sms' });
  await t.of.services.devices.settled();
  await assert.rejects(OpenFactorDevice.confirmPhoneRegistration(base, again.registrationId, await codeTo(e164(FIRST))), errorCode('60043'));
  await page.locator('input[name=allow_new_devices]').check();
  await page.waitForSelector('text=New devices may be added');

  await page.locator('#devices .row', { hasText: 'Tablet' }).locator('button:text("Remove")').click();
  await page.locator('#devices .row', { hasText: 'Tablet' }).waitFor({ state: 'detached' });
  await assert.rejects(tablet.refreshAccounts(), errorCode('60087'), 'the removed device stops at once');
  assert.equal(await page.locator('#devices .row', { hasText: 'This browser' }).count(), 1);
});

test('a new number, changed from the browser with a code to it and another by email', { skip }, async () => {
  const section = page.locator('#phone-change');
  await section.locator('input[name=phone_number]').fill(SECOND);
  await section.locator('button:text("Send codes")').click();
  const pin = await codeTo(e164(SECOND));
  await section.locator('input[name=phone_code]').waitFor();
  await accessibleAtBothSizes(page, 'a phone change, codes asked for');
  await section.locator('input[name=phone_code]').fill(pin);
  await section.locator('input[name=email_code]').fill(await emailCode());
  await section.locator('button:text("Change my number")').click();
  await page.waitForSelector(`text=Your phone number is now +1 ${SECOND}.`);
  await accessibleAtBothSizes(page, 'the phone number changed');
  const s = await status();
  assert.equal(s.phone_number, 'XXX-XXX-0711');
  assert.equal(s.authy_id, user);
  const moved = await hooks.waitFor('user_phone_changed');
  assert.equal(moved[0].objects.user.s_authy_id, String(user));
  assert.ok(await showsUsersCode(page), 'the browser keeps working');
});

test('a recovery the person did not ask for is shown on the browser, which cancels it', { skip }, async () => {
  const { id } = await OpenFactorDevice.startAccountRecovery(base, { countryCode: '1', phoneNumber: SECOND, via: 'sms' });
  await t.of.services.recoveries.settled();
  const intruder = await OpenFactorDevice.confirmAccountRecovery(base, id, { phoneCode: await codeTo(e164(SECOND)), emailCode: await emailCode() }, { name: 'Unknown phone' });
  const card = page.locator('#account-recoveries .request', { hasText: 'Unknown phone' });
  await card.waitFor();
  assert.match((await card.textContent())!, /Someone is recovering your accounts/);
  await accessibleAtBothSizes(page, 'a recovery under way');
  await card.locator('button:text("Cancel this recovery")').click();
  await page.waitForSelector('text=Recovery canceled');
  await assert.rejects(intruder.refreshStatus(), errorCode('60087'), 'the intruder is removed');
  const canceled = await hooks.waitFor('account_recovery_canceled');
  assert.equal(canceled[0].objects.account_recovery.s_id, id);
  assert.equal((await status()).last_account_recovery_at, null);
});

/** In a fresh browser: "Recover your account", the number(s), the codes; the page then waits. */
async function recoverIn(p: Page, oldNumber: string, newNumber?: string) {
  await p.click('button:text("Recover your account")');
  await p.fill('input[name=phone_number]', oldNumber);
  if (newNumber) {
    await p.check('input[name=changed]');
    await p.fill('input[name=new_phone_number]', newNumber);
  }
  await p.click('button:text("Send codes")');
  await p.waitForSelector('text=If this number has an account');
  await t.of.services.recoveries.settled();
  await p.fill('input[name=phone_code]', await codeTo(e164(oldNumber)));
  if (newNumber) await p.fill('input[name=new_phone_code]', await codeTo(e164(newNumber)));
  await p.fill('input[name=email_code]', await emailCode());
  await p.click('button:text("Recover my account")');
}

test('every device lost: recovered in a new browser after the wait, which the old devices hear of; they then stop', { skip }, async () => {
  const fresh = await newPage();
  await recoverIn(fresh, SECOND);
  await fresh.waitForSelector('h1:text("Your account is being recovered")');
  await accessibleAtBothSizes(fresh, 'being recovered');
  assert.match((await fresh.textContent('#completes'))!, /Your accounts come to this browser on /);
  await page.locator('#account-recoveries .request', { hasText: 'Web authenticator' }).waitFor();

  assert.ok(await showsUsersCode(fresh), 'after the wait, the new browser shows the codes');
  await assert.rejects(phone.refreshAccounts(), errorCode('60087'), 'the old phone stopped');
  const s = await status();
  assert.ok(s.last_account_recovery_at > 0);
  assert.equal(s.detailed_devices.length, 1);
  const started = await hooks.waitFor('account_recovery_started');
  const approved = await hooks.waitFor('account_recovery_approved');
  assert.equal(started.at(-1)!.objects.account_recovery.s_id, approved.at(-1)!.objects.account_recovery.s_id);
  page = fresh; // the person's only device now
});

test('a new number and no device: all three codes, the longer wait, then the accounts on the new number', { skip }, async () => {
  const fresh = await newPage();
  await recoverIn(fresh, SECOND, THIRD);
  await fresh.waitForSelector('h1:text("Your number is changing")');
  await accessibleAtBothSizes(fresh, 'the number is changing');
  assert.ok(await showsUsersCode(fresh));
  assert.equal((await status()).phone_number, 'XXX-XXX-0721');
  assert.ok((await hooks.waitFor('user_phone_changed', 2)).length >= 2);
  page = fresh;
});

test('recovery codes: a printable sheet where the application allows it, none where it does not; each code verifies once', { skip }, async () => {
  const printCo = await t.newApplication('Print Co');
  await t.of.services.applications.updateSettings(printCo.id, { recoveryCodesOnDevices: 1 });
  const printUser = await createUser(t, 'lp-print@example.com', THIRD, '1', printCo.apiKey);
  await page.click('button:text("Look for new accounts")');
  const row = page.locator('.account', { hasText: 'Print Co' });
  await row.waitFor();
  assert.equal(await page.locator('.account', { hasText: 'Test Bank' }).locator('button:text("Recovery codes")').count(), 0, 'not where the application does not allow it');

  await row.locator('button:text("Recovery codes")').click();
  const sheet = page.locator('.print-sheet');
  await sheet.waitFor();
  await accessibleAtBothSizes(page, 'the recovery-codes sheet');
  const codes = (await sheet.locator('.recovery-codes li').allTextContents()).map((c) => c.trim());
  assert.equal(codes.length, 10);
  assert.ok(codes.every((c) => /^\d{8}$/.test(c)));
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.locator('header').isVisible(), false, 'printing shows the sheet alone');
  assert.equal(await page.locator('.account', { hasText: 'Test Bank' }).isVisible(), false);
  assert.equal(await sheet.locator('h2').isVisible(), true);
  await page.emulateMedia({ media: 'screen' });

  const once = await verify(codes[0], printUser, printCo.apiKey);
  assert.equal(once.status, 200, once.text);
  assert.equal((await verify(codes[0], printUser, printCo.apiKey)).status, 401, 'once only');
  // A new sheet replaces the old one.
  await row.locator('button:text("Recovery codes")').click();
  await until('a new sheet', async () => (await sheet.locator('.recovery-codes li').first().textContent())?.trim() !== codes[0]);
  assert.equal((await verify(codes[1], printUser, printCo.apiKey)).status, 401, 'the old set stopped');
  assert.deepEqual(dialogs, []);
});
