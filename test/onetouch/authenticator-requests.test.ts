// Sign-in requests that end elsewhere leave the authenticator at once (issue 20): answered on
// another device of the same person, expired, or canceled by the application. Two browsers, each
// its own device of one user, in Chromium; the list is read as a person sees it, without reload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, noBrowser } from '../support/browser.ts';
import { startApp, type TestApp } from '../support/harness.ts';
import { cuttableProxy, type CuttableProxy } from '../support/cuttable-proxy.ts';
import { call } from '../support/http.ts';
import { approvalStatus, createApproval } from '../support/onetouch.ts';
import { createUser } from '../support/tokens.ts';

const skip = noBrowser;
const BUILT = fileURLToPath(new URL('../../dist/authenticator/index.html', import.meta.url));
/** "At once": the server sweeps expiries every second and tells devices; allow a little more. */
const PROMPTLY_MS = 4000;

let t: TestApp;
let base: string;
/** The laptop reaches the server through it: cut, the laptop has no network. */
let proxy: CuttableProxy;
let browser: Browser;
let laptop: Page;
let tablet: Page;
let user: number;

async function addBrowser(origin: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${origin}/authenticator/`);
  const r = await call(t.of.server, 'POST', '/protected/json/sdk/registrations', { key: t.apiKey, form: `authy_id=${user}` });
  await page.fill('input[name=token]', r.json.registration_token);
  await page.click('form:has(input[name=token]) button');
  await page.waitForSelector('#connection.live');
  return page;
}

before(async () => {
  if (skip) return;
  assert.ok(existsSync(BUILT), 'the authenticator is built (npm run build:web)');
  t = await startApp();
  base = await t.listen();
  user = await createUser(t, 'joana@example.com', '415-555-0144');
  browser = await launchBrowser();
  proxy = await cuttableProxy(Number(new URL(base).port));
  laptop = await addBrowser(proxy.url);
  tablet = await addBrowser(base);
});
after(async () => {
  if (skip) return;
  await browser.close();
  await proxy.close();
  await t.close();
});

const card = (page: Page, message: string) => page.locator('.request', { hasText: message });
/** Shown on both devices, then made to end by `end`: it leaves `page` within PROMPTLY_MS; how long it took. */
async function endsPromptly(message: string, end: (uuid: string) => Promise<void>, pages: Page[], extra: Record<string, unknown> = {}) {
  const made = await createApproval(t, user, { message, ...extra });
  assert.equal(made.status, 200, made.text);
  const uuid = made.json.approval_request.uuid as string;
  for (const p of [laptop, tablet]) await card(p, message).waitFor();
  await end(uuid);
  const ended = Date.now();
  for (const p of pages) await card(p, message).waitFor({ state: 'detached', timeout: PROMPTLY_MS });
  return { uuid, ms: Date.now() - ended };
}

test('answered on another device of the same person: gone from this one at once, and it says so', { skip }, async () => {
  const { uuid } = await endsPromptly('Approve me on the tablet', async () => {
    await card(tablet, 'Approve me on the tablet').locator('button:text("Approve")').click();
  }, [tablet, laptop]);
  assert.equal((await approvalStatus(t, uuid)).json.approval_request.status, 'approved');
  await laptop.waitForSelector('text=Test Bank: the sign-in request was approved on another device.');
  await tablet.waitForSelector('text=Approved: Test Bank, Approve me on the tablet');

  await endsPromptly('Deny me on the laptop', async () => {
    await card(laptop, 'Deny me on the laptop').locator('button:text("Deny")').click();
  }, [laptop, tablet]);
  await tablet.waitForSelector('text=Test Bank: the sign-in request was denied on another device.');
  assert.equal(await laptop.locator('.request').count(), 0);
  assert.equal(await laptop.locator('text=No sign-in is waiting for you.').isVisible(), true);
});

test('expired: gone from every device within seconds of its end, without a reload', { skip }, async () => {
  const before = Date.now();
  const { uuid } = await endsPromptly('Expires in two seconds', async () => {}, [], { seconds_to_expire: 2 });
  // Still shown before its time…
  assert.ok(await card(laptop, 'Expires in two seconds').isVisible());
  // …and gone soon after it.
  for (const p of [laptop, tablet]) await card(p, 'Expires in two seconds').waitFor({ state: 'detached', timeout: 2000 + PROMPTLY_MS });
  assert.ok(Date.now() - before >= 1500, 'not before it expired');
  assert.equal((await approvalStatus(t, uuid)).json.approval_request.status, 'expired');
  await laptop.waitForSelector('text=Test Bank: the sign-in request expired or was canceled.');
});

test('canceled by the application (the person signed in with a code): gone from every device at once', { skip }, async () => {
  const { uuid, ms } = await endsPromptly('Cancel me', async (id) => {
    const r = await call(t.of.server, 'POST', `/onetouch/json/approval_requests/${id}/cancel`, { key: t.apiKey });
    assert.equal(r.status, 200, r.text);
  }, [laptop, tablet]);
  assert.ok(ms < PROMPTLY_MS, `${ms} ms`);
  assert.equal((await approvalStatus(t, uuid)).json.approval_request.status, 'expired');
});

test('ended while this device was offline: gone once it is back, without a reload', { skip }, async () => {
  const made = await createApproval(t, user, { message: 'Ended while away' });
  await card(laptop, 'Ended while away').waitFor();
  // The laptop loses the network: its event stream ends, and it says it is offline.
  await proxy.cut();
  await laptop.waitForSelector('#connection.offline', { timeout: 20_000 });
  const r = await call(t.of.server, 'POST', `/onetouch/json/approval_requests/${made.json.approval_request.uuid}/cancel`, { key: t.apiKey });
  assert.equal(r.status, 200);
  await card(tablet, 'Ended while away').waitFor({ state: 'detached', timeout: PROMPTLY_MS });
  assert.ok(await card(laptop, 'Ended while away').isVisible(), 'the laptop heard nothing while offline');
  await proxy.restore();
  await laptop.waitForSelector('#connection.live', { timeout: 30_000 });
  await card(laptop, 'Ended while away').waitFor({ state: 'detached', timeout: PROMPTLY_MS });
});
