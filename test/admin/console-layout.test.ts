// The admin console as a whole, in Chromium at 1280×800 and 390×844: every page reached from the
// navigation has no serious or critical axe-core violation and fits a phone's width; tables page
// and filter through the admin API; OneTouch requests and devices are listed; an application is
// renamed (not onto another's name) and deleted only after its name is typed; and the console
// works by keyboard alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, noBrowser, notFound, seriousA11yProblems } from '../support/browser.ts';
import { startApp, type TestApp } from '../support/harness.ts';
import { codeIn, createUser, delivered } from '../support/tokens.ts';
import { createApproval, registerDevice } from '../support/onetouch.ts';

const skip = noBrowser;
const SIZES = { wide: { width: 1280, height: 800 }, narrow: { width: 390, height: 844 } } as const;
const PAGES = ['Overview', 'Users', 'Devices', 'OneTouch requests', 'Messages', 'Phone verifications', 'Lost phones', 'Import users', 'Webhooks and callbacks', 'Providers', 'Pumping defence', 'Settings', 'Keys and deletion'];

let t: TestApp;
let base: string;
let browser: Browser;
const users: number[] = [];

before(async () => {
  if (skip) return;
  t = await startApp();
  base = await t.listen();
  browser = await launchBrowser();
  // 30 users (more than a page of 25), two with devices and answered or pending approval requests.
  for (let i = 0; i < 30; i++) users.push(await createUser(t, `person${i}@example.com`, `415-555-${String(300 + i).padStart(4, '0')}`));
  const anna = await registerDevice(t, base, users[0]);
  await anna.rename('Anna phone');
  await createApproval(t, users[0], { message: 'Sign in to Test Bank' });
  await anna.approve((await anna.pendingApprovals())[0]);
  await createApproval(t, users[0], { message: 'Transfer 20 EUR' });
  await anna.deny((await anna.pendingApprovals())[0]);
  await registerDevice(t, base, users[1]);
  await createApproval(t, users[1], { message: 'Still waiting' });
  // A Twilio Verify account with a service and a verification, for the Verify pages.
  const account = await t.of.services.verifyCredentials.createAccount('Layout Verify');
  const basic = `Basic ${Buffer.from(`${account.sid}:${account.authToken}`).toString('base64')}`;
  const v2 = (path: string, body: string) => fetch(`${base}/v2/${path}`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body });
  const service = (await (await v2('Services', 'FriendlyName=Layout%20Login')).json()) as { sid: string };
  await v2(`Services/${service.sid}/Verifications`, 'To=%2B14155550399&Channel=sms');
  await v2(`Services/${service.sid}/Entities/layout-0001/Factors`, 'FactorType=totp&FriendlyName=Layout%20phone');
  for (const id of users.slice(0, 3)) await fetch(`${base}/protected/json/sms/${id}?force=true`, { headers: { 'x-authy-api-key': t.apiKey } });
  await fetch(`${base}/protected/json/call/${users[3]}?force=true`, { headers: { 'x-authy-api-key': t.apiKey } });
});
after(async () => {
  if (skip) return;
  await browser?.close();
  await t.close();
});

async function signedIn(viewport: { width: number; height: number }): Promise<Page> {
  const page = await browser.newPage({ viewport });
  await page.goto(`${base}/console/`);
  await page.fill('input[name=token]', t.config.adminToken);
  await page.click('button:text-is("Use the token")');
  await page.waitForSelector('[data-testid=applications] a');
  return page;
}

/** Opens a page from the navigation (behind the Menu button on a narrow screen). */
async function navigate(page: Page, title: string) {
  if (await page.isVisible('#menu')) {
    await page.click('#menu');
    assert.equal(await page.getAttribute('#menu', 'aria-expanded'), 'true');
  }
  await page.click(`nav a:text-is("${title}")`);
  await page.waitForSelector(`nav a[aria-current=page]:text-is("${title}")`, { state: 'attached' });
  await page.waitForLoadState('networkidle');
}

for (const [size, viewport] of Object.entries(SIZES)) {
  test(`every page at ${viewport.width}×${viewport.height}: no serious accessibility problem, nothing wider than the screen, no missing file`, { skip }, async () => {
    const page = await browser.newPage({ viewport });
    const missing = notFound(page);
    try {
      const problems: string[] = [];
      const tooWide: string[] = [];
      const backticks: string[] = [];
      const check = async (where: string) => {
        problems.push(...(await seriousA11yProblems(page)).map((p) => `${where}: ${p}`));
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        if (width > viewport.width) tooWide.push(`${where}: ${width}px`);
        // Help texts are words, not Markdown: no literal backticks shown.
        if ((await page.evaluate(() => document.body.innerText)).includes('`')) backticks.push(where);
      };
      await page.goto(`${base}/console/`);
      await page.waitForSelector('input[name=token]');
      await check('sign-in');
      await page.fill('input[name=token]', t.config.adminToken);
      await page.click('button:text-is("Use the token")');
      await page.waitForSelector('[data-testid=applications] a');
      await check('applications');
      await page.click(`[data-testid=applications] a:text-is("Test Bank")`);
      await page.waitForSelector('[data-testid=chart-messages] canvas');
      for (const title of PAGES) {
        await navigate(page, title);
        await check(title);
      }
      // The confirmation dialog too.
      await page.click('button:text-is("Delete the application")');
      await page.waitForSelector('dialog[open]');
      await check('delete dialog');
      await page.keyboard.press('Escape');
      // The audit trail.
      await navigate(page, 'Audit trail');
      await page.waitForSelector('[data-testid=audit] tbody tr');
      await check('Audit trail');
      // The owners' pages: administrators and API tokens.
      await navigate(page, 'Administrators');
      await page.waitForSelector('[data-testid=admins]');
      await check('Administrators');
      await navigate(page, 'API tokens');
      await page.waitForSelector('[data-testid=api-tokens]');
      await check('API tokens');
      // Twilio Verify: the accounts, one account, and a service's verifications.
      await navigate(page, 'Twilio Verify');
      await page.waitForSelector('[data-testid=verify-accounts] a');
      await check('Twilio Verify');
      await page.click('[data-testid=verify-accounts] a:text-is("Layout Verify")');
      await page.waitForSelector('[data-testid=verify-services] a');
      await check('Verify account');
      await page.click('[data-testid=verify-services] a:text-is("Layout Login")');
      await page.waitForSelector('[data-testid=verify-verifications] td[data-label=SID]');
      await check('Verify verifications');
      await navigate(page, 'Verify factors');
      await page.waitForSelector('[data-testid=verify-factors] td[data-label=Entity]');
      await check('Verify factors');
      assert.deepEqual(problems, []);
      assert.deepEqual(tooWide, []);
      assert.deepEqual(backticks, []);
      assert.deepEqual(missing(), []);
      if (size === 'narrow') {
        // The navigation is behind the Menu button, closed after a choice.
        assert.equal(await page.isVisible('nav a:text-is("Users")'), false);
      }
    } finally {
      await page.close();
    }
  });
}

for (const [size, viewport] of Object.entries(SIZES)) {
test(`${size}: users, a page of 25 at a time, Next and Previous, search by email, phone and id, locked filter`, { skip }, async () => {
  const page = await signedIn(viewport);
  try {
    await page.goto(`${base}/console/#/apps/${t.appId}/users`);
    const rows = page.locator('[data-testid=users] tbody tr');
    await page.waitForSelector('text=Showing 1–25 of 30 users');
    assert.equal(await rows.count(), 25);
    assert.equal(await rows.first().locator('td').first().textContent(), String(users[29]), 'newest first');
    await page.click('button:text-is("Next")');
    await page.waitForSelector('text=Showing 26–30 of 30 users');
    assert.equal(await rows.count(), 5);
    assert.equal(await page.isDisabled('button:text-is("Next")'), true);
    await page.click('button:text-is("Previous")');
    await page.waitForSelector('text=Showing 1–25 of 30 users');

    // Each search below finds something other than the one before: its answer is in when the rows change.
    const find = async (q: string) => {
      const before = await page.textContent('[data-testid=users] tbody');
      await page.fill('input[name=q]', q);
      await page.click('button:text-is("Search")');
      await page.waitForFunction((was) => document.querySelector('[data-testid=users] tbody')!.textContent !== was, before);
      return (await rows.allTextContents()).join('|');
    };
    assert.match(await find('person7@example.com'), new RegExp(`^${users[7]}person7@example\\.com`));
    assert.match(await find('+14155550312'), new RegExp(`^${users[12]}person12@example\\.com`));
    assert.match(await find(String(users[20])), new RegExp(`^${users[20]}person20@`));
    assert.equal(await find('nobody@example.com'), 'No users match.');
    await page.fill('input[name=q]', '');
    await page.selectOption('select[name=locked]', 'true');
    await page.waitForSelector('[data-testid=users] td:text("No users match.")');
  } finally {
    await page.close();
  }
});

test(`${size}: OneTouch requests by outcome, devices by name, messages filtered by channel`, { skip }, async () => {
  const page = await signedIn(viewport);
  try {
    await page.goto(`${base}/console/#/apps/${t.appId}/approvals`);
    await page.waitForSelector('text=Showing 1–3 of 3 requests');
    const approvals = await page.locator('[data-testid=approvals] tbody tr').allTextContents();
    assert.match(approvals[0], /Still waitingpending/);
    assert.match(approvals[1], /Transfer 20 EURdenied.*Anna phone/);
    assert.match(approvals[2], /Sign in to Test Bankapproved.*Anna phone/);
    await page.selectOption('select[name=status]', 'denied');
    await page.waitForSelector('text=Showing 1–1 of 1 request');
    assert.match((await page.textContent('[data-testid=approvals] tbody'))!, /Transfer 20 EUR/);

    await page.goto(`${base}/console/#/apps/${t.appId}/devices`);
    await page.waitForSelector('text=Showing 1–2 of 2 devices');
    assert.match((await page.textContent('[data-testid=devices] tbody'))!, new RegExp(`${users[0]}Anna phone`));

    await page.goto(`${base}/console/#/apps/${t.appId}/messages`);
    await page.waitForSelector('text=Showing 1–4 of 4 messages');
    await page.selectOption('select[name=channel]', 'voice');
    await page.waitForSelector('text=Showing 1–1 of 1 message');
    assert.match((await page.textContent('[data-testid=messages] tbody'))!, /voice/);
    // Searched by Authy id: the one SMS to the first user.
    await page.selectOption('select[name=channel]', '');
    await page.waitForSelector('text=Showing 1–4 of 4 messages');
    await page.fill('input[name=q]', String(users[0]));
    await page.click('button:text-is("Search")');
    await page.waitForSelector('text=Showing 1–1 of 1 message');
    assert.match((await page.textContent('[data-testid=messages] tbody'))!, new RegExp(`${users[0]}sms`));

    // The overview counts what happened, by outcome.
    await page.goto(`${base}/console/#/apps/${t.appId}`);
    await page.waitForSelector('[data-testid=chart-approvals] canvas');
    assert.equal(await page.getAttribute('[data-testid=chart-approvals] canvas', 'aria-label'), 'OneTouch requests by outcome, the last 14 days: 1 approved, 1 denied, 1 pending.');
  } finally {
    await page.close();
  }
});

test(`${size}: rename (never onto another application's name) and delete only after typing the name`, { skip }, async () => {
  const { id, apiKey } = await t.newApplication(`Old Name ${size}`);
  const newName = `New Name ${size}`;
  const page = await signedIn(viewport);
  try {
    await page.goto(`${base}/console/#/apps/${id}/security`);
    await page.fill('input[name=app_name]', 'Test Bank');
    await page.click('button:text-is("Rename")');
    await page.waitForSelector('.status.error:not(:empty)');
    assert.equal((await t.of.services.applications.find(id))!.name, `Old Name ${size}`);
    await page.fill('input[name=app_name]', newName);
    await page.click('button:text-is("Rename")');
    await page.waitForSelector(`text=Renamed to “${newName}”.`);
    assert.equal(await page.textContent('h1'), newName);
    assert.equal((await t.of.services.applications.find(id))!.name, newName);

    await page.click('button:text-is("Delete the application")');
    const go = page.locator('dialog[open] button.danger');
    assert.equal(await go.isDisabled(), true, 'not before the name is typed');
    await page.fill('dialog[open] input[name=confirm_text]', newName.slice(0, -1));
    assert.equal(await go.isDisabled(), true);
    await page.fill('dialog[open] input[name=confirm_text]', newName);
    await go.click();
    await page.waitForSelector(`text=Deleted “${newName}”.`);
    assert.equal(await page.locator(`[data-testid=applications] a:text-is("${newName}")`).count(), 0);
    assert.equal(await t.of.services.applications.find(id), undefined);
    const r = await fetch(`${base}/protected/json/app/details`, { headers: { 'x-authy-api-key': apiKey } });
    assert.equal(r.status, 401, 'its key is refused');
  } finally {
    await page.close();
  }
});

test(`${size}: by keyboard alone, sign in, reach a page from the navigation, change a setting, cancel a confirmation`, { skip }, async () => {
  const page = await browser.newPage({ viewport });
  try {
    await page.goto(`${base}/console/`);
    await page.waitForSelector('input[name=token]');
    assert.equal(await page.evaluate(() => (document.activeElement as HTMLInputElement).name), 'email', 'the email field has the focus');
    /** Tabs until the focused element matches `test` (run in the page), at most 60 times. */
    const tabTo = async (what: string, test: (el: Element) => boolean) => {
      for (let i = 0; i < 60; i++) {
        await page.keyboard.press('Tab');
        if (await page.evaluate(`(${test.toString()})(document.activeElement)`)) return;
      }
      assert.fail(`Tab never reached ${what}`);
    };
    await tabTo('the token field', (el) => (el as HTMLInputElement).name === 'token');
    await page.keyboard.type(t.config.adminToken);
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid=applications] a');
    await tabTo('Test Bank', (el) => el.textContent === 'Test Bank' && el.tagName === 'A');
    await page.keyboard.press('Enter');
    await page.waitForSelector('h1:text-is("Test Bank")');
    // On a phone's width the navigation opens from the Menu button first.
    if (size === 'narrow') {
      await tabTo('Menu', (el) => el.id === 'menu');
      await page.keyboard.press('Enter');
    }
    await tabTo('Settings', (el) => el.textContent === 'Settings' && el.tagName === 'A');
    await page.keyboard.press('Enter');
    await page.waitForSelector('input[name=codeTtlSeconds]');
    await tabTo('code validity', (el) => (el as HTMLInputElement).name === 'codeTtlSeconds');
    await page.keyboard.press('Control+A');
    const ttl = size === 'narrow' ? 360 : 300;
    await page.keyboard.type(String(ttl));
    await page.keyboard.press('Enter');
    await page.waitForSelector('text=Saved.');
    assert.equal((await t.of.services.applications.find(t.appId))!.settings.codeTtlSeconds, ttl);

    await page.goto(`${base}/console/#/apps/${t.appId}/security`);
    await page.waitForSelector('button:text-is("Replace the API key")');
    await tabTo('Replace the API key', (el) => el.textContent === 'Replace the API key');
    await page.keyboard.press('Enter');
    await page.waitForSelector('dialog[open]');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel', 'the safe choice has the focus');
    // Tab stays inside the dialog.
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press('Tab');
      assert.ok(await page.evaluate(() => document.querySelector('dialog[open]')!.contains(document.activeElement)), 'focus stays in the dialog');
    }
    await page.keyboard.press('Escape');
    await page.locator('dialog').waitFor({ state: 'detached' });
    const r = await fetch(`${base}/protected/json/app/details`, { headers: { 'x-authy-api-key': t.apiKey } });
    assert.equal(r.status, 200, 'Escape replaced nothing');
  } finally {
    await page.close();
  }
});

test(`${size}: a new application's overview says there is no traffic yet instead of drawing empty charts`, { skip }, async () => {
  const { id } = await t.newApplication(`Quiet Shop ${size}`);
  const page = await signedIn(viewport);
  try {
    await page.goto(`${base}/console/#/apps/${id}`);
    await page.waitForSelector('[data-testid=chart-messages] .empty');
    assert.equal(await page.textContent('[data-testid=chart-messages] .empty'), 'No messages in the last 14 days.');
    assert.equal(await page.locator('main canvas').count(), 0);
    assert.equal(await page.textContent('[data-testid=tile-messages]'), '0messages');
    await page.selectOption('select[name=days]', '90');
    await page.waitForSelector('text=No messages in the last 90 days.');
  } finally {
    await page.close();
  }
});

test(`${size}: the overview charts phone verifications by result and the sends the pumping defence blocked`, { skip }, async () => {
  const { id, apiKey } = await t.newApplication(`Guarded Shop ${size}`);
  // One send per prefix and window: the second number of a prefix is refused and audited.
  await t.of.services.applications.updateSettings(id, { prefixSendsPerWindow: 1 });
  const start = (phone: string) =>
    fetch(`${base}/protected/json/phones/verification/start`, { method: 'POST', headers: { 'x-authy-api-key': apiKey, 'content-type': 'application/x-www-form-urlencoded' }, body: `via=sms&country_code=1&phone_number=${phone}` });
  assert.equal((await start('212-555-0101')).status, 200);
  const code = codeIn((await delivered({ ...t, apiKey, appId: id } as TestApp, '+12125550101')).text, 4);
  const checked = await fetch(`${base}/protected/json/phones/verification/check?country_code=1&phone_number=212-555-0101&verification_code=${code}`, { headers: { 'x-authy-api-key': apiKey } });
  assert.equal(checked.status, 200);
  const refused = await start('212-555-0102');
  assert.equal(refused.status, 429, 'the second send to the prefix is blocked');
  assert.equal((await start('646-555-0103')).status, 200, 'another prefix still gets its code');

  const page = await signedIn(viewport);
  try {
    await page.goto(`${base}/console/#/apps/${id}`);
    await page.waitForSelector('[data-testid=chart-verifications] canvas');
    assert.equal(await page.getAttribute('[data-testid=chart-verifications] canvas', 'aria-label'), 'Phone verifications by result, the last 14 days: 1 verified, 1 pending.');
    assert.equal(await page.getAttribute('[data-testid=chart-messages] canvas', 'aria-label'), 'Messages by channel, the last 14 days: 2 SMS, 0 voice, 0 email, 1 blocked.');
    assert.equal(await page.textContent('[data-testid=tile-blocked]'), '1blocked by the pumping defence');
    assert.equal(await page.getAttribute('[data-testid=traffic-summary]', 'aria-label'), '3 messages (1 blocked by the pumping defence), 0 token checks, 0 approval requests, 2 phone verifications');
  } finally {
    await page.close();
  }
});
}
