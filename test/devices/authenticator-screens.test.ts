// Every screen of the authenticator, for everyone (issue 20): no serious or critical axe-core
// violation on registration, account recovery, the codes, a sign-in request and this device's
// settings, on a laptop (1280×800) and a phone (390×844); and all of it by keyboard alone, with
// the focus always visible: copy a code, approve and deny (on a laptop and on a phone), rename the
// device (kept on the server).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { accessibleAtBothSizes as accessibleAt, launchBrowser, noBrowser } from '../support/browser.ts';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { approvalStatus, createApproval } from '../support/onetouch.ts';
import { createUser } from '../support/tokens.ts';

const skip = noBrowser;
const BUILT = fileURLToPath(new URL('../../dist/authenticator/index.html', import.meta.url));

let t: TestApp;
let base: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let user: number;
let deviceId: number;

before(async () => {
  if (skip) return;
  assert.ok(existsSync(BUILT), 'the authenticator is built (npm run build:web)');
  t = await startApp();
  base = await t.listen();
  user = await createUser(t, 'rui@example.com', '415-555-0157');
  browser = await launchBrowser();
  context = await browser.newContext();
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  page = await context.newPage();
  page.on('dialog', (d) => void d.dismiss()); // none is expected: a confirm would stop the keyboard tests below
});
after(async () => {
  if (skip) return;
  await browser.close();
  await t.close();
});

/** axe-core finds nothing serious or critical on this screen, at either size. */
const accessibleAtBothSizes = (screen: string) => accessibleAt(page, screen);

/** Presses Tab until `target` has the focus (from wherever the focus is); fails if it never comes. */
async function tabTo(target: Locator, max = 80): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((e) => e === document.activeElement)) return;
    await page.keyboard.press('Tab');
  }
  assert.fail(`Tab never reached ${target}`);
}

/** Tab to the code's Copy button, press Enter: "Copied", and the code is on the clipboard. */
async function copyCodeByKeyboard(): Promise<void> {
  await tabTo(page.locator('.account button.copy'));
  await focusIsVisible();
  await page.keyboard.press('Enter');
  await page.locator('.account >> text=Copied').waitFor();
  assert.match(await page.evaluate(() => navigator.clipboard.readText()), /^\d{6,8}$/);
}

/** The focused element is marked so that one sees it: an outline of 2 px or more. */
async function focusIsVisible(): Promise<void> {
  const o = await page.evaluate(() => {
    const s = getComputedStyle(document.activeElement!);
    return { style: s.outlineStyle, width: Number.parseFloat(s.outlineWidth), what: document.activeElement!.outerHTML.slice(0, 60) };
  });
  assert.ok(o.style !== 'none' && o.width >= 2, `focus visible on ${o.what}: outline ${o.style} ${o.width}px`);
}

test('registration and account recovery screens: accessible at both sizes', { skip }, async () => {
  await page.goto(`${base}/authenticator/`);
  await page.waitForSelector('text=Add this browser as your authenticator');
  await accessibleAtBothSizes('registration');
  // By keyboard to "Recover your account", and back.
  await tabTo(page.locator('button:text("Recover your account")'));
  await focusIsVisible();
  await page.keyboard.press('Enter');
  await page.waitForSelector('h1:text("Recover your account")');
  await accessibleAtBothSizes('account recovery');
  await tabTo(page.locator('button:text("Back")'));
  await page.keyboard.press('Space');
  await page.waitForSelector('text=Add this browser as your authenticator');
});

test('added by keyboard: the codes, this device and a sign-in request are accessible at both sizes', { skip }, async () => {
  const r = await call(t.of.server, 'POST', '/protected/json/sdk/registrations', { key: t.apiKey, form: `authy_id=${user}` });
  await tabTo(page.locator('input[name=token]'));
  await page.keyboard.type(r.json.registration_token);
  await page.keyboard.press('Enter');
  await page.locator('.account .code').filter({ hasText: /^\d{6,8}$/ }).waitFor();
  await page.waitForSelector('#connection.live');
  deviceId = (await t.store.db.selectFrom('devices').select('device_key_id').where('user_id', '=', user).executeTakeFirstOrThrow()).device_key_id!;
  await accessibleAtBothSizes('codes and settings');

  await createApproval(t, user, { message: 'Sign in from Faro', details: { Browser: 'Firefox' } });
  await page.locator('.request', { hasText: 'Sign in from Faro' }).waitFor();
  await accessibleAtBothSizes('a pending sign-in request');
});

test('by keyboard alone: copy a code, approve one request with Enter and deny another with Space; the focus is seen all along', { skip }, async () => {
  await copyCodeByKeyboard();

  const faro = page.locator('.request', { hasText: 'Sign in from Faro' });
  const uuid = (await faro.getAttribute('data-uuid'))!;
  await page.locator('#requests-heading').focus();
  await tabTo(faro.locator('button.approve'));
  await focusIsVisible();
  await page.keyboard.press('Enter');
  await page.waitForSelector('text=Approved: Test Bank, Sign in from Faro');
  assert.equal((await approvalStatus(t, uuid)).json.approval_request.status, 'approved');
  // The card went with the focus in it: the focus is on the list's heading, not lost.
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'requests-heading');

  const second = await createApproval(t, user, { message: 'Sign in from Braga' });
  const braga = page.locator('.request', { hasText: 'Sign in from Braga' });
  await braga.waitFor();
  await tabTo(braga.locator('button.deny'));
  await focusIsVisible();
  await page.keyboard.press('Space');
  await page.waitForSelector('text=Denied: Test Bank, Sign in from Braga');
  assert.equal((await approvalStatus(t, second.json.approval_request.uuid)).json.approval_request.status, 'denied');
});

test('this device renamed by keyboard: shown, kept on the server and after a reload; a bad name is refused in words', { skip }, async () => {
  const input = page.locator('#device-name-input');
  await tabTo(input);
  await focusIsVisible();
  await page.keyboard.press('Control+A');
  await page.keyboard.type("Rui's laptop");
  await page.keyboard.press('Enter');
  await page.waitForSelector('#rename-status:text("Name saved.")');
  assert.equal(await page.textContent('#device-name'), "Rui's laptop");
  const row = await t.store.db.selectFrom('device_keys').select('name').where('id', '=', deviceId).executeTakeFirstOrThrow();
  assert.equal(row.name, "Rui's laptop");
  // The person's devices list it by that name, beside "This browser".
  await page.locator('#devices [data-device-id]', { hasText: "Rui's laptop" }).filter({ hasText: 'This browser' }).waitFor();

  await page.reload();
  await page.locator('.account .code').filter({ hasText: /^\d{6,8}$/ }).waitFor();
  assert.equal(await page.textContent('#device-name'), "Rui's laptop");
  assert.equal(await input.inputValue(), "Rui's laptop");

  // Too long: refused, said next to the field, the field marked invalid, the name unchanged.
  await input.fill('x'.repeat(65));
  await tabTo(page.locator('#this-device button[type=submit]'));
  await focusIsVisible();
  await page.keyboard.press('Enter');
  await page.waitForSelector('#rename-status.error');
  assert.match((await page.textContent('#rename-status'))!, /longer than 64 characters/);
  assert.equal(await input.getAttribute('aria-invalid'), 'true');
  assert.equal(await page.textContent('#device-name'), "Rui's laptop");
  await accessibleAtBothSizes('a refused name');
  // Empty: refused as well.
  await input.fill('   ');
  await input.press('Enter');
  await page.waitForSelector('#rename-status.error:has-text("is empty")');
  const after = await t.store.db.selectFrom('device_keys').select('name').where('id', '=', deviceId).executeTakeFirstOrThrow();
  assert.equal(after.name, "Rui's laptop");
});

test('on a phone (390×844), by keyboard alone: copy a code, approve one request and deny another; nothing wider than the screen', { skip }, async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    await copyCodeByKeyboard();

    const first = await createApproval(t, user, { message: 'Sign in from Porto' });
    const porto = page.locator('.request', { hasText: 'Sign in from Porto' });
    await porto.waitFor();
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'the card fits the phone');
    await page.locator('#requests-heading').focus();
    await tabTo(porto.locator('button.approve'));
    await focusIsVisible();
    await page.keyboard.press('Enter');
    await page.waitForSelector('text=Approved: Test Bank, Sign in from Porto');
    assert.equal((await approvalStatus(t, first.json.approval_request.uuid)).json.approval_request.status, 'approved');

    const second = await createApproval(t, user, { message: 'Sign in from Lagos' });
    const lagos = page.locator('.request', { hasText: 'Sign in from Lagos' });
    await lagos.waitFor();
    await tabTo(lagos.locator('button.deny'));
    await page.keyboard.press('Space');
    await page.waitForSelector('text=Denied: Test Bank, Sign in from Lagos');
    assert.equal((await approvalStatus(t, second.json.approval_request.uuid)).json.approval_request.status, 'denied');
  } finally {
    await page.setViewportSize({ width: 1280, height: 800 });
  }
});
