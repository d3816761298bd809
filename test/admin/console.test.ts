// The admin console in a real browser (headless Chromium), served by OpenFactor at /console/ as
// `npm run build` made it: an operator signs in with the admin token, creates an application and
// uses its key, reads traffic and users, changes a setting, replaces a key. What the console does
// is checked on the server (the key works, the setting holds), not only on the page. Layout,
// paging, keyboard use and accessibility: console-layout.test.ts; administrators, roles, the second
// factor and single sign-on: console-roles.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, noBrowser, notFound } from '../support/browser.ts';
import { PHONES, startApp, type TestApp } from '../support/harness.ts';
import { appToken, codeIn, createUser, delivered } from '../support/tokens.ts';
import { until } from '../support/wait.ts';

const skip = noBrowser;
const BUILT = fileURLToPath(new URL('../../dist/console/index.html', import.meta.url));

let t: TestApp;
let base: string;
let browser: Browser;
let page: Page;
const dialogs: string[] = [];
before(async () => {
  if (skip) return;
  assert.ok(existsSync(BUILT), 'the console is built (npm install runs `npm run build`)');
  t = await startApp();
  base = await t.listen();
  browser = await launchBrowser();
  page = await browser.newPage();
  // Confirmations are accepted; any other dialog (an injected alert) is recorded.
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void (d.type() === 'confirm' ? d.accept() : d.dismiss());
  });
});
after(async () => {
  if (skip) return;
  await browser.close();
  await t.close();
});

const details = (key: string) => fetch(`${base}/protected/json/app/details`, { headers: { 'x-authy-api-key': key } });

/** Opens one page of an application from the navigation, as a person would. */
async function openPage(app: string, title: string) {
  await page.click(`[data-testid=applications] a:text-is("${app}")`);
  await page.waitForSelector(`h1:text-is("${app}")`);
  if (title !== 'Overview') await page.click(`nav a:text-is("${title}")`);
  await page.waitForSelector(`nav a[aria-current=page]:text-is("${title}")`);
  // The page's heading is put in with its content, once that has loaded.
  await page.waitForSelector(`main .page-head .page-name:text-is("${title}")`);
}

/** Accepts the confirmation dialog the console opens before a destructive action. */
async function confirm(expect: RegExp) {
  const dialog = page.locator('dialog[open]');
  assert.match((await dialog.textContent())!, expect);
  await dialog.locator('button.danger').click();
  await dialog.waitFor({ state: 'detached' });
}

async function signIn(token: string) {
  await page.goto(`${base}/console/#/sign-in`);
  await page.evaluate(() => sessionStorage.clear());
  await page.reload();
  await page.fill('input[name=token]', token);
  await page.click('button:text-is("Use the token")');
}

test('sign in: a wrong token is refused, the admin token lists the applications', { skip }, async () => {
  const missing = notFound(page);
  await page.goto(`${base}/console/`);
  await page.waitForLoadState('networkidle');
  assert.deepEqual(missing(), [], 'the page asks for nothing that is not there (no favicon 404)');
  await signIn('not-the-token');
  await page.waitForSelector('text=That token was refused.');
  await signIn(t.config.adminToken);
  await page.waitForSelector('[data-testid=applications] a:text("Test Bank")');
  const csp = (await page.request.get(`${base}/console/`)).headers()['content-security-policy'];
  assert.match(csp, /default-src 'self'/);
});

test('create an application: the key shown once works on the Authy API; names are shown as text', { skip }, async () => {
  await signIn(t.config.adminToken);
  await page.fill('input[name=name]', 'Corner Shop');
  await page.click('button:text-is("Create")');
  const key = (await page.textContent('[data-testid=new-api-key]'))!.trim();
  const r = await details(key);
  assert.equal(r.status, 200);
  assert.equal(((await r.json()) as { app: { name: string } }).app.name, 'Corner Shop');
  await page.waitForSelector('[data-testid=applications] a:text("Corner Shop")');

  // A hostile name stays text.
  const hostile = '<img src=x onerror=alert(1)>';
  await t.of.services.applications.create(hostile);
  await page.reload();
  await page.waitForSelector(`[data-testid=applications] a:text("${hostile}")`);
  assert.equal(await page.locator('main img').count(), 0);
  assert.deepEqual(dialogs, []);
});

test('an application: traffic and users as sent, a setting changed and refused, the key replaced', { skip }, async () => {
  const alice = await createUser(t, 'alice@example.com', PHONES.us[0]);
  for (let i = 0; i < 2; i++) await fetch(`${base}/protected/json/sms/${alice}?force=true`, { headers: { 'x-authy-api-key': t.apiKey } });
  const code = codeIn((await delivered(t, '+14155550142')).text, 7);
  await until('both sent', async () => (await t.store.db.selectFrom('outbox').select('status').execute()).filter((r) => r.status === 'sent').length === 2);
  // Token verifications: the code (valid), the same code again (reused), a wrong one (invalid).
  const verify = (token: string) => fetch(`${base}/protected/json/verify/${token}/${alice}`, { headers: { 'x-authy-api-key': t.apiKey } });
  assert.deepEqual([(await verify(code)).status, (await verify(code)).status, (await verify(code === '1234567' ? '7654321' : '1234567')).status], [200, 401, 401]);

  await signIn(t.config.adminToken);
  await openPage('Test Bank', 'Overview');
  assert.equal(await page.getAttribute('[data-testid=traffic-summary]', 'aria-label'), '2 messages (0 blocked by the pumping defence), 3 token checks, 0 approval requests, 0 phone verifications');
  assert.equal(await page.getAttribute('[data-testid=chart-tokens] canvas', 'aria-label'), 'Token verifications by result, the last 14 days: 1 valid, 1 invalid, 1 reused.');
  assert.equal(await page.textContent('[data-testid=tile-messages]'), '2messages');
  assert.equal(await page.getAttribute('[data-testid=chart-messages] canvas', 'aria-label'), 'Messages by channel, the last 14 days: 2 SMS, 0 voice, 0 email, 0 blocked.');
  assert.equal(await page.textContent('[data-testid=chart-approvals] .empty'), 'No requests in the last 14 days.');
  const drawn = await page.$eval('[data-testid=chart-messages] canvas', (c) => (c as HTMLCanvasElement).width * (c as HTMLCanvasElement).height);
  assert.ok(drawn > 10_000, 'the chart is drawn');

  await page.click('nav a:text-is("Users")');
  const userRow = await page.textContent(`[data-testid=users] tr:has(td:text-is("${alice}"))`);
  assert.match(userRow!, /alice@example\.com/);
  assert.match(userRow!, /\+1-XXX-XXX-XX42/);
  await page.click('nav a:text-is("Messages")');
  await page.waitForSelector('[data-testid=messages] tbody tr td[data-label=Channel]');
  const messages = await page.locator('[data-testid=messages] tbody tr').allTextContents();
  assert.equal(messages.length, 2);
  for (const row of messages) assert.match(row, /sms\+1-XXX-XXX-XX42sentconsole1/);
  assert.ok(!(await page.textContent('main'))!.includes('5550142'), 'no full phone number on the page');

  await page.click('nav a:text-is("Settings")');
  // The label says what the setting does (it was once labelled as clock drift).
  assert.equal(await page.isChecked('input[name=syncTokens]'), true);
  assert.match((await page.textContent('label[for=' + (await page.getAttribute('input[name=syncTokens]', 'id')) + ']'))!, /devices registered by phone/i);
  await page.fill('input[name=tokenLength]', '8');
  await page.click('text=Save settings');
  await page.waitForSelector('text=Saved.');
  assert.equal((await t.of.services.applications.find(t.appId))!.settings.tokenLength, 8);
  await page.fill('input[name=tokenLength]', '9');
  await page.click('text=Save settings');
  await page.waitForSelector('text=/tokenLength must be an integer from 6 to 8/');
  assert.equal((await t.of.services.applications.find(t.appId))!.settings.tokenLength, 8, 'the refused value was not saved');

  await page.click('nav a:text-is("Pumping defence")');
  await page.fill('input[name=countries]', 'pt, us');
  await page.click('text=Save countries');
  await page.waitForSelector('text=Only PT, US.');
  assert.deepEqual((await t.of.services.applications.find(t.appId))!.allowedCountries, ['PT', 'US']);
  await page.fill('input[name=countries]', '');
  await page.click('text=Save countries');
  await page.waitForSelector('text="Everywhere."'); // quoted: exact, not the help text's "everywhere."
  assert.equal((await t.of.services.applications.find(t.appId))!.allowedCountries, undefined);

  await page.click('nav a:text-is("Webhooks and callbacks")');
  await page.fill('input[name=callback_url]', 'http://10.0.0.7/authy');
  await page.click('text=Save callback');
  await page.waitForSelector('text=/10\\.0\\.0\\.7, a private address, not a public one/');

  await page.click('nav a:text-is("Keys and deletion")');
  const oldKey = t.apiKey;
  // Cancelled: nothing happens.
  await page.click('button:text-is("Replace the API key")');
  await page.keyboard.press('Escape');
  await page.locator('dialog').waitFor({ state: 'detached' });
  assert.equal((await details(t.apiKey)).status, 200);
  await page.click('button:text-is("Replace the API key")');
  await confirm(/Replace the API key of “Test Bank”\?Clients using the old key stop working at once\./);
  const newKey = (await page.textContent('[data-testid=rotated-api-key]'))!.trim();
  assert.equal((await details(newKey)).status, 200);
  assert.equal((await details(oldKey)).status, 401);
});

test('a prefix closed by the pumping defence is listed and reopened with one click', { skip }, async () => {
  const { id, apiKey } = await t.newApplication('Pumped Shop');
  await t.of.services.applications.updateSettings(id, { prefixSendsPerWindow: 2 });
  for (let n = 1; n <= 3; n++) {
    await fetch(`${base}/protected/json/phones/verification/start`, {
      method: 'POST',
      headers: { 'x-authy-api-key': apiKey, 'content-type': 'application/x-www-form-urlencoded' },
      body: `via=sms&country_code=1&phone_number=212-555-${String(n).padStart(4, '0')}`,
    });
  }
  assert.equal((await t.of.services.guard.quarantines(id)).length, 1);
  await signIn(t.config.adminToken);
  await openPage('Pumped Shop', 'Pumping defence');
  const row = await page.textContent('[data-testid=quarantines] tbody tr');
  assert.match(row!, /^\+1212555prefix_velocity/);
  await page.click('button:text("Lift +1212555")');
  await page.waitForSelector('[data-testid=quarantines] td:text("Nothing is closed.")');
  assert.deepEqual(await t.of.services.guard.quarantines(id), []);
});

test('a user locked out by wrong tokens is shown locked and unlocked with one click', { skip }, async () => {
  // Its own application: an earlier test replaced Test Bank's key.
  const { apiKey } = await t.newApplication('Lock Shop');
  const bob = await createUser({ ...t, apiKey } as TestApp, 'bob@example.com', PHONES.us[1]);
  const verify = async (token: string) => (await fetch(`${base}/protected/json/verify/${token}/${bob}?force=true`, { headers: { 'x-authy-api-key': apiKey } })).status;
  for (let i = 0; i < 10; i++) await verify(String(2000000 + i));
  assert.equal(await verify(await appToken(t, bob)), 429);
  await signIn(t.config.adminToken);
  await openPage('Lock Shop', 'Users');
  const row = page.locator(`[data-testid=users] tr:has(td:text-is("${bob}"))`);
  assert.match((await row.textContent())!, /locked until/);
  await page.click(`button:text("Unlock ${bob}")`);
  await row.locator('text=unlocked').waitFor();
  assert.equal(await verify(await appToken(t, bob)), 200);

  // What the application recorded of bob, and the other address he was registered with.
  const activity = (form: string) => fetch(`${base}/protected/json/users/${bob}/register_activity`, { method: 'POST', headers: { 'x-authy-api-key': apiKey, 'content-type': 'application/x-www-form-urlencoded' }, body: form });
  assert.equal((await activity('type=password_reset&user_ip=203.0.113.7&data[reason]=forgot')).status, 200);
  assert.equal((await activity('type=banned&data[by]=support')).status, 200);
  await createUser({ ...t, apiKey } as TestApp, 'robert@example.com', PHONES.us[1]);
  await page.click(`button:text("Activity of ${bob}")`);
  const list = page.locator(`[aria-label="Activity of ${bob}"] li`);
  await list.first().waitFor();
  const items = await list.allTextContents();
  assert.equal(items.length, 2);
  assert.match(items[0]!, /banned {2}\{"by":"support"\}$/, 'newest first');
  assert.match(items[1]!, /password_reset from 203\.0\.113\.7 {2}\{"reason":"forgot"\}$/);
  await page.locator('text=Also registered as: robert@example.com').waitFor();
});

test('lost phones: a waiting account recovery is listed, and its wait ended only with a reason', { skip }, async () => {
  const { id: appId, apiKey } = await t.newApplication('Recovery Shop');
  const number = '415-555-0701';
  const ana = await createUser({ ...t, apiKey } as TestApp, 'ana.recovers@example.com', number);
  const { OpenFactorDevice } = await import('../../sdk/device/src/index.ts');
  const { codeIn } = await import('../support/tokens.ts');
  const { id } = await OpenFactorDevice.startAccountRecovery(base, { countryCode: '1', phoneNumber: number, via: 'sms' });
  const phoneCode = codeIn((await delivered(t, '+14155550701')).text, 6);
  const emailCode = codeIn((await delivered(t, 'ana.recovers@example.com')).text, 6);
  const device = await OpenFactorDevice.confirmAccountRecovery(base, id, { phoneCode, emailCode }, { name: 'Ana new phone' });
  await signIn(t.config.adminToken);
  await openPage('Recovery Shop', 'Lost phones');
  const row = page.locator('[data-testid=recoveries] tbody tr').first();
  assert.match((await row.textContent())!, new RegExp(`Account recovery \\(waiting\\)${ana}.*Ana new phone`));
  // A destructive action: styled as one, and asked first; "Cancel" in the dialog changes nothing.
  assert.equal(await row.locator('button:text("End the wait now")').getAttribute('class'), 'danger');
  await row.locator('button:text("End the wait now")').click();
  await page.locator('dialog[open] button:text-is("Cancel")').click();
  await page.locator('dialog').waitFor({ state: 'detached' });
  assert.equal(await device.refreshStatus(), 'pending_recovery');
  // Without a reason the wait stands: the refusal is shown, the device still waits.
  await row.locator('button:text("End the wait now")').click();
  await confirm(/End the wait of this account recovery now\?/);
  await page.waitForSelector('section:has([data-testid=recoveries]) p.error:not(:empty)');
  assert.equal(await device.refreshStatus(), 'pending_recovery');
  await row.locator('input').fill('identity checked in person, ticket 77');
  await row.locator('button:text("End the wait now")').click();
  await confirm(/End the wait of this account recovery now\?/);
  await page.waitForSelector('[data-testid=recoveries] td:text("Nothing is pending.")');
  assert.equal(await device.refreshStatus(), 'active');
  assert.deepEqual((await device.refreshAccounts()).map((a) => a.app_id), [appId]);
});

test('lost phones: cancelling a recovery asks first; once confirmed it is gone and the new device stays out', { skip }, async () => {
  const { apiKey } = await t.newApplication('Cancel Shop');
  const number = '415-555-0702';
  await createUser({ ...t, apiKey } as TestApp, 'bea.recovers@example.com', number);
  const { OpenFactorDevice } = await import('../../sdk/device/src/index.ts');
  const { codeIn } = await import('../support/tokens.ts');
  const { id } = await OpenFactorDevice.startAccountRecovery(base, { countryCode: '1', phoneNumber: number, via: 'sms' });
  const phoneCode = codeIn((await delivered(t, '+14155550702')).text, 6);
  const emailCode = codeIn((await delivered(t, 'bea.recovers@example.com')).text, 6);
  const device = await OpenFactorDevice.confirmAccountRecovery(base, id, { phoneCode, emailCode }, { name: 'Bea new phone' });
  await signIn(t.config.adminToken);
  await openPage('Cancel Shop', 'Lost phones');
  const row = page.locator('[data-testid=recoveries] tbody tr').first();
  await row.locator('button:text-is("Cancel")').click();
  // Not now: nothing changes.
  await page.locator('dialog[open] button:text-is("Cancel")').click();
  await page.locator('dialog').waitFor({ state: 'detached' });
  assert.equal(await device.refreshStatus(), 'pending_recovery');
  await row.locator('button:text-is("Cancel")').click();
  await confirm(/Cancel this account recovery\?/);
  await page.waitForSelector('[data-testid=recoveries] td:text("Nothing is pending.")');
  const { errorCode } = await import('../support/devices.ts');
  await assert.rejects(device.refreshStatus(), errorCode('60087'), 'the waiting device is removed: it never gets the account');
});

test('webhooks made and deleted, providers set with credentials hidden, webhooks API keys replaced', { skip }, async () => {
  const { id } = await t.newApplication('Hook Shop');
  await signIn(t.config.adminToken);
  await openPage('Hook Shop', 'Webhooks and callbacks');
  // Only the events OpenFactor sends are offered.
  const offered = await page.locator('input[name=webhook_events]').evaluateAll((boxes) => boxes.map((b) => (b as HTMLInputElement).value));
  assert.ok(offered.includes('user_added') && offered.includes('one_touch_request_responded'), offered.join());
  assert.ok(!offered.includes('suspended_account'), 'an event never sent is not offered');
  await page.fill('input[name=webhook_name]', 'audit');
  await page.fill('input[name=webhook_url]', 'http://127.0.0.1:9/events');
  await page.check('input[name=webhook_events][value=user_added]');
  await page.check('input[name=webhook_events][value=user_removed]');
  await page.click('button:text("Add webhook")');
  await page.waitForSelector('text=Made audit.');
  const key = (await page.textContent('[data-testid=webhook-signing-key]'))!;
  const [hook] = await t.store.db.selectFrom('webhooks').selectAll().where('app_id', '=', id).execute();
  assert.deepEqual(JSON.parse(hook.events), ['user_added', 'user_removed']);
  const listed = (await t.of.services.webhooks.list((await t.of.services.applications.find(id))!)) as { ok: true; body: { webhooks: { signing_key: string }[] } };
  assert.equal(listed.body.webhooks[0].signing_key, key, 'the key shown is the one that signs');
  assert.match((await page.textContent('[data-testid=webhooks] tbody'))!, /audithttp:\/\/127\.0\.0\.1:9\/eventsuser_added, user_removed/);
  await page.click('button:text("Delete audit")');
  await confirm(/Delete the webhook “audit”\?/);
  await page.waitForSelector('[data-testid=webhooks] td:text("No webhooks.")');
  assert.equal((await t.store.db.selectFrom('webhooks').select('id').where('app_id', '=', id).execute()).length, 0);

  await page.click('nav a:text-is("Providers")');
  await page.fill('input[name=providers_sms]', 'https://gateway.example/send?secret=0123456789abcdef0123');
  await page.click('button:text("Save providers")');
  await page.waitForSelector('text=Providers saved.');
  const shown = (await page.textContent('[data-testid=providers]'))!;
  assert.match(shown, /sms: https:\/\/gateway\.example\/send/);
  assert.ok(!shown.includes('0123456789abcdef0123'), shown);
  assert.match(shown, /voice: the service's providers/);
  await page.fill('input[name=providers_voice]', 'twilio://AC1:token@api.twilio.com');
  await page.click('button:text("Save providers")');
  await page.waitForSelector('section:has(h2:text("Delivery providers")) .error:not(:empty)');

  await page.click('nav a:text-is("Keys and deletion")');
  await page.click('button:text("Replace the webhooks API keys")');
  await confirm(/Replace the webhooks API keys\?/);
  await page.waitForSelector('text=Keys replaced.');
  const access = (await page.textContent('[data-testid=access-key]'))!;
  assert.ok(await t.of.services.applications.dashboardSigningKey(id, access), 'the access key shown is the application\'s');
});

test('phone verifications are listed with the phone masked', { skip }, async () => {
  const { apiKey } = await t.newApplication('Verify Shop');
  const started = await fetch(`${base}/protected/json/phones/verification/start`, {
    method: 'POST',
    headers: { 'x-authy-api-key': apiKey, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'via=sms&country_code=1&phone_number=202-555-0193',
  });
  assert.equal(started.status, 200);
  await signIn(t.config.adminToken);
  await openPage('Verify Shop', 'Phone verifications');
  const row = (await page.textContent('[data-testid=verifications] tbody tr'))!;
  assert.match(row, /\+1-XXX-XXX-XX93smspending0/);
  assert.ok(!(await page.content()).includes('2025550193'), 'no full number on the page');
});

test('users imported from a file: a dry run first (the default), failures by line, then for real', { skip }, async () => {
  const { apiKey } = await t.newApplication('Import Shop');
  const file = { name: 'users.jsonl', mimeType: 'application/x-ndjson', buffer: Buffer.from(`${JSON.stringify({ authy_id: 90000001, email: 'moved@example.com', e164: '+12025550194' })}\n{"email":"no phone@example.com"}\n`) };
  const status = async () => (await fetch(`${base}/protected/json/users/90000001/status`, { headers: { 'x-authy-api-key': apiKey } })).status;
  await signIn(t.config.adminToken);
  await openPage('Import Shop', 'Import users');
  await page.setInputFiles('input[name=import_file]', file);
  await page.click('button:text("Import")');
  await page.waitForSelector('text=Dry run: nothing was written.');
  assert.equal(await page.textContent('[data-testid=import-summary]'), '2 lines: 1 created, 0 already there, 1 failed.');
  assert.match((await page.textContent('[data-testid=import-failures] tbody'))!, /^2/);
  assert.equal(await status(), 404);
  await page.uncheck('input[name=import_dry_run]');
  await page.setInputFiles('input[name=import_file]', file);
  await page.click('button:text("Import")');
  await page.waitForSelector('text=Users imported.');
  assert.equal(await status(), 200);
});

test('Twilio Verify: an account and an API key made in the console sign in on /v2; its service and verifications are listed', { skip }, async () => {
  await signIn(t.config.adminToken);
  await page.click('nav a:text-is("Twilio Verify")');
  await page.fill('input[name=verify_account_name]', 'Shop Verify');
  await page.click('button:text-is("Create account")');
  await page.waitForSelector('text=Created “Shop Verify”.');
  const sid = (await page.textContent('[data-testid=verify-account-sid]'))!.trim();
  const token = (await page.textContent('[data-testid=verify-auth-token]'))!.trim();
  assert.match(sid, /^AC[0-9a-f]{32}$/);
  const v2 = (path: string, body: string, user = sid, pass = token) =>
    fetch(`${base}/v2/${path}`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body });
  const service = (await (await v2('Services', 'FriendlyName=Shop%20Login')).json()) as { sid: string };
  assert.match(service.sid, /^VA[0-9a-f]{32}$/);

  // An API key made on the account's page works too.
  await page.click(`[data-testid=verify-accounts] a:text-is("Shop Verify")`);
  await page.fill('input[name=verify_key_name]', 'backend');
  await page.click('button:text-is("Create API key")');
  await page.waitForSelector('text=Created “backend”.');
  const keySid = (await page.textContent('[data-testid=verify-key-sid]'))!.trim();
  const secret = (await page.textContent('[data-testid=verify-key-secret]'))!.trim();
  const started = await v2(`Services/${service.sid}/Verifications`, 'To=%2B14155550188&Channel=sms', keySid, secret);
  assert.equal(started.status, 201);
  const verification = (await started.json()) as { sid: string };

  await page.reload();
  await page.click('[data-testid=verify-services] a:text-is("Shop Login")');
  await page.waitForSelector('nav a[aria-current=page]:text-is("Verify verifications")');
  const row = (await page.textContent('[data-testid=verify-verifications] tbody tr'))!;
  assert.match(row, new RegExp(`${verification.sid}\\+1-XXX-XXX-XX88smspending10`));
  assert.ok(!(await page.content()).includes('4155550188'), 'no full number on the page');

  // A TOTP factor made over /v2 is on the service's factors page, without its secret.
  const factor = await v2(`Services/${service.sid}/Entities/ana-0001/Factors`, 'FactorType=totp&FriendlyName=Ana%20phone', keySid, secret);
  assert.equal(factor.status, 201);
  const { binding } = (await factor.json()) as { binding: { secret: string } };
  await page.click('nav a:text-is("Verify factors")');
  await page.waitForSelector('[data-testid=verify-factors] tbody tr td[data-label=Entity]');
  const factorRow = (await page.textContent('[data-testid=verify-factors] tbody tr'))!;
  assert.match(factorRow, /ana-0001Ana phonetotpunverifiedopen0YF[0-9a-f]{32}/);
  assert.ok(!(await page.content()).includes(binding.secret), 'no secret on the page');
});

test('the audit trail: a change made in the console is there, with who and what changed; filtered by action; exported as JSON lines', { skip }, async () => {
  await signIn(t.config.adminToken);
  await openPage('Test Bank', 'Settings');
  const was = (await t.of.services.applications.find(t.appId))!.settings.codeTtlSeconds;
  await page.fill('input[name=codeTtlSeconds]', String(was + 120));
  await page.press('input[name=codeTtlSeconds]', 'Enter');
  await page.waitForSelector('text=Saved.');
  await page.click('nav a:text-is("Audit trail")');
  await page.waitForSelector('[data-testid=audit] tbody tr');
  await page.fill('input[name=action]', 'application.settings');
  await page.click('[data-testid=audit] >> xpath=ancestor::div[contains(@class,"table-block")] >> button:text-is("Search")');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=audit] tbody tr')].every((r) => r.textContent!.includes('application.settings')));
  const first = await page.locator('[data-testid=audit] tbody tr').first().textContent();
  assert.match(first!, new RegExp(`break-glass admin token127\\.0\\.0\\.1application\\.settings${t.appId}settings\\.codeTtlSeconds: ${was} → ${was + 120}`));
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('button:text-is("Export as JSON lines")')]);
  const { readFile } = await import('node:fs/promises');
  const lines = (await readFile((await download.path())!, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.some((e) => e.action === 'application.settings' && e.detail.changed['settings.codeTtlSeconds'][1] === was + 120));
});
