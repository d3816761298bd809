// The demo login (examples/demo-login) in a real browser, with the authenticator web app in a
// second page as the user's device: a person opens an account on the demo site, which registers
// them with OpenFactor through authy-client; signs in with a password; and passes the second
// factor by approving on the authenticator, or, after a denial, with a code by SMS, by voice or
// from the authenticator. The demo's backend calls OpenFactor over HTTP as any customer would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, noBrowser, notFound, seriousA11yProblems } from '../support/browser.ts';
import type { FastifyInstance } from 'fastify';
import { startApp, type TestApp } from '../support/harness.ts';
import { codeIn, delivered, spokenCode } from '../support/tokens.ts';
import { createDemo } from '../../examples/demo-login/server.ts';
import { until } from '../support/wait.ts';

const skip = noBrowser;
const BUILT = fileURLToPath(new URL('../../dist/authenticator/index.html', import.meta.url));

const EMAIL = 'rui@example.com';
const PASSWORD = 'correct horse battery';
const PHONE = '415-555-0177';
const E164 = '+14155550177';
let t: TestApp;
let base: string;
let demo: FastifyInstance;
let demoUrl: string;
let browser: Browser;
/** The demo site. */
let site: Page;
/** The authenticator web app: the user's device. */
let device: Page;

before(async () => {
  if (skip) return;
  assert.ok(existsSync(BUILT), 'the authenticator is built (npm install runs `npm run build`)');
  t = await startApp();
  base = await t.listen();
  demo = await createDemo({ openfactorUrl: base, apiKey: t.apiKey });
  demoUrl = await demo.listen({ port: 0, host: '127.0.0.1' });
  browser = await launchBrowser();
  site = await (await browser.newContext()).newPage();
  device = await (await browser.newContext()).newPage();
});
after(async () => {
  if (skip) return;
  await browser.close();
  await demo.close();
  await t.close();
});

async function signIn(password = PASSWORD) {
  await site.fill('form:has(input[autocomplete=current-password]) input[name=email]', EMAIL);
  await site.fill('input[name=password][autocomplete=current-password]', password);
  await site.click('button:text("Sign in")');
}
const signedIn = () => site.waitForSelector(`text=Welcome, ${EMAIL}`);
async function signOut() {
  await site.click('button:text("Sign out")');
  await site.waitForSelector('button:text("Sign in")');
}
/** What the site's backend says of this browser's session. */
const me = async () => (await site.request.get(`${demoUrl}/api/me`)).status();

test('open an account, add the authenticator, sign in: the OneTouch request approved on it signs in', { skip }, async () => {
  const missing = notFound(site);
  await site.goto(demoUrl);
  await site.waitForLoadState('networkidle');
  assert.deepEqual(missing(), [], 'the page asks for nothing that is not there (no favicon 404)');
  await site.fill('form:has(input[autocomplete=new-password]) input[name=email]', EMAIL);
  await site.fill('input[autocomplete=new-password]', PASSWORD);
  await site.fill('input[name=phone]', PHONE);
  await site.click('button:text("Open account")');
  await site.waitForSelector('text=Account created: sign in.');

  // The user's device: the authenticator web app, added by phone.
  await device.goto(`${base}/authenticator/`);
  await device.fill('input[name=phone_number]', PHONE);
  await device.click('button:text("Send code")');
  await device.fill('input[name=code]', codeIn((await delivered(t, E164)).text, 6));
  await device.click('button:text("Add this browser")');
  await device.waitForSelector('.account:has-text("Test Bank")');

  await signIn('not the password');
  await site.waitForSelector('text=That email and password do not match.');
  await signIn();
  await site.waitForSelector('text=We sent a sign-in request to your phone');
  assert.equal(await me(), 401, 'the password alone does not sign in');

  const request = device.locator('.request', { hasText: 'Sign in to Example Bank' });
  await request.waitFor();
  assert.match((await request.textContent())!, new RegExp(`Email\\s*${EMAIL}`));
  await request.locator('button:text("Approve")').click();
  await signedIn();
  assert.equal(await me(), 200);
});

test('denied on the device: the modal says so, and a code by SMS signs in (a wrong one first is refused)', { skip }, async () => {
  await signOut();
  assert.equal(await me(), 401);
  await signIn();
  const request = device.locator('.request', { hasText: 'Sign in to Example Bank' });
  await request.locator('button:text("Deny")').click();
  await site.waitForSelector('text=The request was denied on your device.');
  assert.equal(await me(), 401);

  const before = (await delivered(t, E164)).id;
  await site.click('button:text("Text me a code")');
  await site.waitForSelector('text=We texted a code to your phone ending in 77.');
  const code = codeIn((await delivered(t, E164, before)).text, 7);
  await site.fill('input[name=token]', code === '0000000' ? '1111111' : '0000000');
  await site.click('button:text("Verify")');
  await site.waitForSelector('text=That code is not right.');
  await site.fill('input[name=token]', code);
  await site.click('button:text("Verify")');
  await signedIn();
  assert.equal(await me(), 200);
});

test('a code by voice call, and a code read off the authenticator, each sign in', { skip }, async () => {
  await signOut();
  await signIn();
  const before = (await delivered(t, E164)).id;
  await site.click('button:text("Call me")');
  await site.waitForSelector('text=We are calling your phone ending in 77.');
  await site.fill('input[name=token]', spokenCode((await delivered(t, E164, before)).text, 7));
  await site.click('button:text("Verify")');
  await signedIn();
  // Signed in with a code: the request on the device is moot and leaves it at once.
  await until('the request leaves the device', async () => (await device.locator('.request', { hasText: 'Sign in to Example Bank' }).count()) === 0, 5000);

  await signOut();
  await signIn();
  await site.click('button:text("Use my authenticator app")');
  const code = (await device.locator('.account:has-text("Test Bank") .code').textContent())!.trim();
  await site.fill('input[name=token]', code);
  await site.click('button:text("Verify")');
  await signedIn();
  assert.equal(await me(), 200);
});

test('the modal: focus moves in and stays in (Tab and Shift+Tab wrap), Escape closes it and focus returns; forms clear after success', { skip }, async () => {
  await signOut();
  await site.fill('form:has(input[autocomplete=current-password]) input[name=email]', EMAIL);
  await site.fill('input[name=password][autocomplete=current-password]', PASSWORD);
  await site.focus('button:text("Sign in")');
  await site.keyboard.press('Enter');
  await site.waitForSelector('#modal:not([hidden])');
  const inModal = () => site.evaluate(() => document.getElementById('modal')!.contains(document.activeElement));
  assert.equal(await inModal(), true, 'focus moved into the modal');
  assert.equal(await site.inputValue('input[name=password][autocomplete=current-password]'), '', 'the password left the form behind');
  for (let i = 0; i < 12; i++) {
    await site.keyboard.press('Tab');
    assert.equal(await inModal(), true, `Tab ${i + 1} stays in the modal`);
  }
  for (let i = 0; i < 12; i++) {
    await site.keyboard.press('Shift+Tab');
    assert.equal(await inModal(), true, `Shift+Tab ${i + 1} stays in the modal`);
  }
  await until('the request reaches the device', async () => (await device.locator('.request', { hasText: 'Sign in to Example Bank' }).count()) === 1, 5000);
  await site.keyboard.press('Escape');
  await site.waitForSelector('#modal', { state: 'hidden' });
  await until('the abandoned sign-in leaves the device', async () => (await device.locator('.request', { hasText: 'Sign in to Example Bank' }).count()) === 0, 5000);
  assert.equal(await me(), 401);
  assert.equal(await site.evaluate(() => document.activeElement?.textContent), 'Sign in', 'focus is back on the button that opened it');
  assert.equal(await site.evaluate(() => document.getElementById('view')!.inert), false, 'the page behind works again');

  // Opening an account: the form is empty again after it is accepted.
  await site.fill('form:has(input[autocomplete=new-password]) input[name=email]', 'clear@example.com');
  await site.fill('input[autocomplete=new-password]', PASSWORD);
  await site.fill('input[name=phone]', '415-555-0179');
  await site.click('button:text("Open account")');
  await site.waitForSelector('text=Account created: sign in.');
  assert.equal(await site.inputValue('form:has(input[autocomplete=new-password]) input[name=email]'), '');
  assert.equal(await site.inputValue('input[autocomplete=new-password]'), '');
  assert.equal(await site.inputValue('input[name=phone]'), '');
});

test('a status poll still out when a code signs in is ignored: no false sign-out (the poll held 700 ms, five tries)', { skip }, async () => {
  await t.of.services.applications.updateSettings(t.appId, { sendsPerHour: 1000, sendsPerNumberHour: 1000, sendsPerNumberDay: 1000 });
  // The site's status answer is held back, so a poll is in flight when the code is accepted; the
  // backend then answers it 401 (the sign-in challenge is used up), which once signed the page out.
  let held = 0;
  await site.route('**/api/login', async (route) => {
    if (route.request().method() !== 'GET') return route.continue();
    held++;
    await new Promise((r) => setTimeout(r, 700));
    await route.continue().catch(() => {}); // the page may have cancelled it meanwhile
  });
  try {
    for (let i = 0; i < 5; i++) {
      if (await site.locator('button:text("Sign out")').count()) await signOut();
      await signIn();
      await site.waitForSelector('#modal:not([hidden])');
      const opened = Date.now();
      const before = (await delivered(t, E164)).id;
      await site.click('button:text("Text me a code")');
      const code = codeIn((await delivered(t, E164, before)).text, 7);
      // The first poll leaves a second after the modal opens and is held 700 ms: go in meanwhile.
      await site.waitForTimeout(Math.max(0, opened + 1150 + i * 100 - Date.now()));
      await site.fill('input[name=token]', code);
      await site.click('button:text("Verify")');
      await signedIn();
      await site.waitForTimeout(900); // past the held poll's answer
      assert.equal(await site.locator(`text=Welcome, ${EMAIL}`).count(), 1, `try ${i}: still signed in`);
      assert.equal(await me(), 200);
    }
    assert.ok(held >= 5, `polls were held (${held})`);
  } finally {
    await site.unroute('**/api/login');
  }
});

test('the demo at 1280×800 and 390×844: signed out, the sign-in modal and signed in, no serious axe-core problem, nothing wider than the screen', { skip }, async () => {
  await t.of.services.applications.updateSettings(t.appId, { sendsPerHour: 1000, sendsPerNumberHour: 1000, sendsPerNumberDay: 1000 });
  const problems: string[] = [];
  const check = async (where: string, width: number) => {
    problems.push(...(await seriousA11yProblems(site)).map((p) => `${where}: ${p}`));
    const wide = await site.evaluate(() => document.documentElement.scrollWidth);
    if (wide > width) problems.push(`${where}: ${wide}px wide`);
  };
  try {
    for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      await site.setViewportSize(viewport);
      await site.goto(demoUrl);
      await site.waitForLoadState('networkidle');
      if (await site.locator('button:text("Sign out")').count()) await signOut();
      await check(`${viewport.width} signed out`, viewport.width);
      await signIn();
      await site.waitForSelector('#modal:not([hidden])');
      await check(`${viewport.width} modal`, viewport.width);
      const before = (await delivered(t, E164)).id;
      await site.click('button:text("Text me a code")');
      const code = codeIn((await delivered(t, E164, before)).text, 7);
      await site.waitForSelector('input[name=token]');
      await check(`${viewport.width} code form`, viewport.width);
      // A wrong code first: the refusal is shown in the modal.
      await site.fill('input[name=token]', code === '1234567' ? '7654321' : '1234567');
      await site.click('button:text("Verify")');
      await site.waitForSelector('#modal form [role=alert].error:not(:empty)');
      await check(`${viewport.width} code refused`, viewport.width);
      await site.fill('input[name=token]', code);
      await site.click('button:text("Verify")');
      await signedIn();
      await check(`${viewport.width} signed in`, viewport.width);
    }
    assert.deepEqual(problems, []);
  } finally {
    await site.setViewportSize({ width: 1280, height: 720 });
  }
});

test('by keyboard alone: sign in with the password, ask for a code by SMS, type it, signed in', { skip }, async () => {
  await t.of.services.applications.updateSettings(t.appId, { sendsPerHour: 1000, sendsPerNumberHour: 1000, sendsPerNumberDay: 1000 });
  if (await site.locator('button:text("Sign out")').count()) await signOut();
  await site.goto(demoUrl);
  await site.waitForSelector('input[autocomplete=current-password]');
  const focused = (test: string) => site.evaluate(`(${test})(document.activeElement)`);
  const tabTo = async (what: string, test: string) => {
    for (let i = 0; i < 30; i++) {
      if (await focused(test)) return;
      await site.keyboard.press('Tab');
    }
    assert.fail(`Tab never reached ${what}`);
  };
  await tabTo('the email field', '(el) => el.name === "email" && el.autocomplete === "username"');
  await site.keyboard.type(EMAIL);
  await site.keyboard.press('Tab');
  assert.equal(await focused('(el) => el.autocomplete === "current-password"'), true, 'Tab goes on to the password');
  await site.keyboard.type(PASSWORD);
  await site.keyboard.press('Enter');
  await site.waitForSelector('#modal:not([hidden])');
  const before = (await delivered(t, E164)).id;
  await tabTo('Text me a code', '(el) => el.textContent === "Text me a code"');
  await site.keyboard.press('Enter');
  const code = codeIn((await delivered(t, E164, before)).text, 7);
  await site.waitForSelector('input[name=token]');
  assert.equal(await focused('(el) => el.name === "token"'), true, 'the code field has the focus');
  await site.keyboard.type(code);
  await site.keyboard.press('Enter');
  await signedIn();
  assert.equal(await me(), 200);
});

test('five wrong passwords lock the account for a while, even against the right one', { skip }, async () => {
  const signup = await site.request.post(`${demoUrl}/api/signup`, { data: { email: 'lock@example.com', password: PASSWORD, country_code: '1', phone: '415-555-0178' } });
  assert.equal(signup.status(), 200, await signup.text());
  await signOut().catch(() => {});
  await site.goto(demoUrl);
  for (let i = 0; i < 5; i++) {
    const r = await site.request.post(`${demoUrl}/api/login`, { data: { email: 'lock@example.com', password: `wrong ${i}` } });
    assert.equal(r.status(), 401);
  }
  await site.fill('form:has(input[autocomplete=current-password]) input[name=email]', 'lock@example.com');
  await site.fill('input[name=password][autocomplete=current-password]', PASSWORD);
  await site.click('button:text("Sign in")');
  await site.waitForSelector('text=/Too many wrong passwords: try again in 1[45] minutes\\./');
  assert.equal(await site.locator('#modal').isHidden(), true, 'no second factor was asked for');
  // The other account is not locked.
  const other = await site.request.post(`${demoUrl}/api/login`, { data: { email: EMAIL, password: PASSWORD } });
  assert.equal(other.status(), 200);
});
