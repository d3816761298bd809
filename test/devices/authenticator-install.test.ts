// The authenticator installs as an app (issue 20): a web app manifest with real icons, a service
// worker that keeps the app shell, so that once loaded the app opens with no network and shows
// the right codes, with their countdown. In Chromium, through a proxy of the test's own that is
// cut when the browser goes offline: the service worker cannot reach the server either.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { totp } from '../../src/core/otp.ts';
import { noBrowser, notFound } from '../support/browser.ts';
import { startApp, type TestApp } from '../support/harness.ts';
import { cuttableProxy, type CuttableProxy } from '../support/cuttable-proxy.ts';
import { call } from '../support/http.ts';
import { createApproval } from '../support/onetouch.ts';
import { createUser, userSeed, verifyUrl } from '../support/tokens.ts';
import { until } from '../support/wait.ts';

const skip = noBrowser;
const BUILT = fileURLToPath(new URL('../../dist/authenticator/index.html', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let t: TestApp;
let proxy: CuttableProxy;
let base: string;
let profile: string;
let context: BrowserContext;
let page: Page;
let user: number;

before(async () => {
  if (skip) return;
  assert.ok(existsSync(BUILT), 'the authenticator is built (npm run build:web)');
  t = await startApp();
  const direct = await t.listen();
  proxy = await cuttableProxy(Number(new URL(direct).port));
  base = proxy.url;
  user = await createUser(t, 'ines@example.com', '415-555-0171');
  // A profile on disk, as a person's browser has: an incognito-like context is never installable.
  profile = mkdtempSync(join(tmpdir(), 'openfactor-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = context.pages()[0] ?? (await context.newPage());
});
after(async () => {
  if (skip) return;
  await context.close();
  await proxy.close();
  await t.close();
  rmSync(profile, { recursive: true, force: true });
});

const codeShown = async () => (await page.locator('.account .code').textContent())!.trim();
/** The TOTP of `user` at `at`, computed here from the seed the server holds. */
const expected = async (at: number, digits: number) => totp(await userSeed(t, user), at, { digits });
/** The code on the page is the code of now (or of a moment ago: the page ticks once a second). */
async function assertRightCode(): Promise<string> {
  const shown = await codeShown();
  const now = Date.now();
  const right = [await expected(now, shown.length), await expected(now - 1500, shown.length)];
  assert.ok(right.includes(shown), `shown ${shown}, the seed gives ${right.join(' or ')}`);
  return shown;
}

/** Width and height from a PNG's IHDR chunk, after checking its signature. */
function pngSize(bytes: Buffer): { width: number; height: number } {
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG signature');
  assert.equal(bytes.subarray(12, 16).toString('latin1'), 'IHDR');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

test('the manifest: linked from the page, served as a manifest, with the fields and real icons an install needs', { skip }, async () => {
  const missing = notFound(page);
  await page.goto(`${base}/authenticator/`);
  const href = await page.locator('link[rel=manifest]').getAttribute('href');
  assert.equal(href, '/authenticator/manifest.webmanifest');
  const res = await page.request.get(new URL(href!, base).href);
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-type']!, /^application\/manifest\+json/);
  const m = await res.json();
  assert.equal(m.name, 'OpenFactor authenticator');
  assert.equal(m.short_name, 'OpenFactor');
  assert.equal(m.start_url, '/authenticator/');
  assert.equal(m.scope, '/authenticator/');
  assert.equal(m.display, 'standalone');
  assert.match(m.theme_color, /^#[0-9a-f]{6}$/i);
  assert.match(m.background_color, /^#[0-9a-f]{6}$/i);
  assert.equal(await page.locator('meta[name=theme-color]').getAttribute('content'), m.theme_color);

  const icons = m.icons as { src: string; sizes: string; type: string; purpose?: string }[];
  const pngs = icons.filter((i) => i.type === 'image/png');
  const wanted = [['192x192', 'any'], ['512x512', 'any'], ['512x512', 'maskable']];
  for (const [sizes, purpose] of wanted) assert.ok(pngs.some((i) => i.sizes === sizes && (i.purpose ?? 'any') === purpose), `a ${purpose} PNG icon of ${sizes}`);
  for (const icon of icons) {
    assert.ok(icon.src.startsWith('/authenticator/'), icon.src);
    const r = await page.request.get(new URL(icon.src, base).href);
    assert.equal(r.status(), 200, icon.src);
    assert.equal(r.headers()['content-type']!.split(';')[0], icon.type, icon.src);
    const bytes = await r.body();
    if (icon.type !== 'image/png') {
      assert.match(bytes.toString('utf8'), /^<svg[^>]+viewBox/);
      continue;
    }
    const [w, h] = icon.sizes.split('x').map(Number);
    assert.deepEqual(pngSize(bytes), { width: w, height: h }, icon.src);
    // Drawn, not blank: a maskable icon fills its square (a mask may cut any edge); the others
    // have the shield on transparency, and the shield's colour in the middle.
    const png = PNG.sync.read(bytes);
    const at = (x: number, y: number) => [...png.data.subarray((y * w! + x) * 4, (y * w! + x) * 4 + 4)];
    assert.equal(at(0, 0)[3], icon.purpose === 'maskable' ? 255 : 0, `${icon.src}: corner`);
    const middle = at(Math.round(w! * 0.5), Math.round(h! * 0.75));
    assert.deepEqual(middle, [0x06, 0x76, 0x47, 255], `${icon.src}: the green shield`);
  }
  assert.deepEqual(missing(), [], 'nothing the page or its manifest names is missing');
});

test('the service worker is served from the build with its scope and type; the page allows it (CSP)', { skip }, async () => {
  const sw = await page.request.get(`${base}/authenticator/sw.js`);
  assert.equal(sw.status(), 200);
  assert.match(sw.headers()['content-type']!, /^(application|text)\/javascript/);
  const source = await sw.text();
  // It keeps this build's script and style: the very files the page loads.
  const assets = await page.evaluate(() => [...document.querySelectorAll('script[src], link[rel=stylesheet]')].map((e) => new URL((e as HTMLScriptElement).src || (e as HTMLLinkElement).href).pathname));
  assert.equal(assets.length, 2);
  for (const a of assets) assert.ok(source.includes(a.replace('/authenticator/', '')), `the worker keeps ${a}`);
  const csp = (await page.request.get(`${base}/authenticator/`)).headers()['content-security-policy']!;
  assert.match(csp, /worker-src 'self'/);
  assert.match(csp, /manifest-src 'self'/);
  assert.match(csp, /default-src 'self'/);
  // Shown at /authenticator/ always (the worker's scope): the path without the slash moves there.
  const bare = await t.of.server.inject({ method: 'GET', url: '/authenticator?from=x' });
  assert.equal(bare.statusCode, 301);
  assert.equal(bare.headers.location, '/authenticator/?from=x');
});

test('registered, then offline: the app opens again with no network and shows the right codes, counting down; nothing of the API was kept', { skip }, async () => {
  const r = await call(t.of.server, 'POST', '/protected/json/sdk/registrations', { key: t.apiKey, form: `authy_id=${user}` });
  await page.fill('input[name=token]', r.json.registration_token);
  await page.click('form:has(input[name=token]) button');
  await page.locator('.account .code').filter({ hasText: /^\d{6,8}$/ }).waitFor();
  await page.waitForSelector('#connection.live');
  await assertRightCode();

  const scope = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
    return reg.scope;
  });
  assert.equal(scope, `${base}/authenticator/`);

  // Chromium's own verdict: nothing stands in the way of installing it.
  const cdp = await context.newCDPSession(page);
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  assert.deepEqual(installabilityErrors, []);
  await cdp.detach();

  // A sign-in request, shown while online.
  await createApproval(t, user, { message: 'Sign in from Porto' });
  await page.locator('.request', { hasText: 'Sign in from Porto' }).waitFor();

  // No network at all: the browser is offline and the server cannot be reached.
  await proxy.cut();
  await context.setOffline(true);
  const fromWorker: string[] = [];
  page.on('response', (res) => res.fromServiceWorker() && fromWorker.push(new URL(res.url()).pathname));
  await page.reload();
  await page.locator('.account .code').filter({ hasText: /^\d{6,8}$/ }).waitFor();
  assert.ok(fromWorker.includes('/authenticator/'), `the page came from the service worker (${fromWorker.join(', ')})`);
  await page.waitForSelector('#connection.offline');
  assert.equal(await page.textContent('#connection'), 'Offline: codes still work');
  const shown = await assertRightCode();
  // The countdown runs: its seconds change, and a screen reader reads them as a sentence.
  const secs = await page.locator('.account .secs').textContent();
  await until('the countdown moves', async () => (await page.locator('.account .secs').textContent()) !== secs, 3000);
  assert.match((await page.getByRole('timer').textContent())!, /\d+ seconds left for this code/);
  // Past a turn of the 30-second step the code changes, still right.
  await until('the next code', async () => (await codeShown()) !== shown && (await codeShown()), 35_000);
  await assertRightCode();
  // The sign-in request is not shown from a copy: only the shell is kept, nothing of the API.
  assert.equal(await page.locator('.request').count(), 0);
  const kept = await page.evaluate(async () => {
    const all: string[] = [];
    for (const name of await caches.keys()) for (const req of await (await caches.open(name)).keys()) all.push(`${name} ${new URL(req.url).pathname}`);
    return all;
  });
  assert.ok(kept.length > 0);
  for (const k of kept) {
    assert.match(k, /^openfactor-authenticator-[0-9a-f]{16} \/authenticator\//, k);
    assert.doesNotMatch(k, /\/device\//, k);
  }
  assert.equal(new Set(kept.map((k) => k.split(' ')[0])).size, 1, 'one cache, of this build');
  const version = kept[0]!.split(' ')[0]!.replace('openfactor-authenticator-', '');
  assert.ok((await (await call(t.of.server, 'GET', '/authenticator/sw.js')).text).includes(version), 'named after the build the server serves');

  // Back online: the request comes back from the server, and the code shown verifies there.
  await context.setOffline(false);
  await proxy.restore();
  await page.locator('.request', { hasText: 'Sign in from Porto' }).waitFor({ timeout: 30_000 });
  const now = await codeShown();
  const v = await call(t.of.server, 'GET', verifyUrl(now, user), { key: t.apiKey });
  assert.equal(v.status, 200, v.text);
});
