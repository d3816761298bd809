// Twilio Verify push in the authenticator web app, in headless Chromium: a service's backend makes
// an access token through twilio-node and sends the person a link to the authenticator with it;
// the person agrees on the page, and the service's challenges then show as cards that the person
// approves or denies. The backend sees each answer through twilio-node. axe-core finds no
// serious problem on the enrolment prompt or a challenge card.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { accessibleAtBothSizes, launchBrowser, noBrowser } from '../support/browser.ts';
import { call } from '../support/http.ts';
import { createUser } from '../support/tokens.ts';
import { until } from '../support/wait.ts';
import { verifyBed, type VerifyBed } from '../support/verify.ts';

const skip = noBrowser;
let { t, base, svc } = {} as VerifyBed;
let browser: Browser;
let page: Page;
const identity = 'anna-0000-0001';

before(async () => {
  if (skip) return;
  ({ t, base, svc } = await verifyBed({ friendlyName: 'Acme Bank' }));
  browser = await launchBrowser();
  page = await (await browser.newContext()).newPage();
  // The browser becomes a device with a registration token (the authenticator's own flow).
  const user = await createUser(t, 'anna@example.com', '415-555-0177');
  const r = await call(t.of.server, 'POST', '/protected/json/sdk/registrations', { key: t.apiKey, form: `authy_id=${user}` });
  await page.goto(`${base}/authenticator/`);
  await page.fill('input[name=token]', r.json.registration_token);
  await page.click('form:has(input[name=token]) button');
  await page.waitForSelector('text=Sign-in requests');
});
after(async () => {
  if (skip) return;
  await browser?.close();
  await t?.close();
});

test('a service link enrols this browser after the person agrees; the token leaves the address', { skip }, async () => {
  const token = (await svc.accessTokens.create({ identity, factorType: 'push', factorFriendlyName: 'Anna’s browser' })).token;
  await page.goto(`${base}/authenticator/#verify=${token}`);
  await page.waitForSelector('text=Approve sign-ins from this browser?');
  await accessibleAtBothSizes(page, 'the Verify enrolment question');
  await page.click('#verify-enrol-heading >> xpath=.. >> button:text("Add")');
  await page.waitForSelector('text=now come to this browser');
  assert.match((await page.textContent('.ok'))!, /from Acme Bank \(for anna-0000-0001\)/);
  assert.equal(new URL(page.url()).hash, '', 'the token is not kept in the address');
  const factors = await svc.entities(identity).factors.list();
  assert.equal(factors.length, 1);
  assert.equal(factors[0].status, 'verified');
  assert.equal(factors[0].friendlyName, 'Anna’s browser');
  // Opened again with the same link: the token is spent, and the page says so.
  await page.goto(`${base}/authenticator/#verify=${token}`);
  await page.click('#verify-enrol-heading >> xpath=.. >> button:text("Add")');
  await page.waitForSelector('.error');
  assert.match((await page.textContent('.error'))!, /access token is not valid/i);
  assert.equal(new URL(page.url()).hash, '', 'a refused token leaves the address too');
  await page.click('button:text("Not now")');
  await page.waitForSelector('#verify-enrol-heading', { state: 'detached' });
});

test('a challenge shows as a card at once; Approve is seen by the backend; a second one is denied', { skip }, async () => {
  const factor = (await svc.entities(identity).factors.list())[0];
  const c = await svc.entities(identity).challenges.create({ factorSid: factor.sid, 'details.message': 'Sign in to Acme Bank', 'details.fields': [{ label: 'Browser', value: 'Firefox on Linux' }] });
  const card = page.locator(`[data-verify-sid="${c.sid}"]`);
  await card.waitFor();
  assert.match((await card.textContent())!, /^Acme Bank.*Sign in to Acme Bank.*Browser.*Firefox on Linux/s, 'the card names the service, as its owner named it');
  await accessibleAtBothSizes(page, 'a Verify challenge card');
  await card.locator('button:text("Approve")').click();
  await card.waitFor({ state: 'detached' });
  assert.equal((await svc.entities(identity).challenges(c.sid).fetch()).status, 'approved');
  assert.match((await page.textContent('.ok'))!, /Approved: Acme Bank, Sign in to Acme Bank/);

  const d = await svc.entities(identity).challenges.create({ factorSid: factor.sid, 'details.message': 'Pay 120 EUR to Shop' });
  const second = page.locator(`[data-verify-sid="${d.sid}"]`);
  await second.locator('button:text("Deny")').click();
  await second.waitFor({ state: 'detached' });
  assert.equal((await svc.entities(identity).challenges(d.sid).fetch()).status, 'denied');
  assert.match((await page.textContent('.denied'))!, /Denied: Acme Bank, Pay 120 EUR/);
});

test('a challenge past its expiration leaves the page by itself, and the person is told', { skip }, async () => {
  const factor = (await svc.entities(identity).factors.list())[0];
  const c = await svc.entities(identity).challenges.create({ factorSid: factor.sid, 'details.message': 'Another sign-in', expirationDate: new Date(Date.now() + 3000) });
  const card = page.locator(`[data-verify-sid="${c.sid}"]`);
  await card.waitFor();
  await card.waitFor({ state: 'detached', timeout: 8000 });
  await until('told', async () => /expired or was canceled/.test((await page.textContent('[role=alert].muted').catch(() => '')) ?? ''));
  assert.equal((await svc.entities(identity).challenges(c.sid).fetch()).status, 'expired');
});
