// The device SDK in a real browser (headless Chromium): bundled for the browser, served by the
// same OpenFactor it talks to; registers with WebCrypto keys, computes codes that verify, keeps
// its identity in localStorage across a reload, hears of a request over SSE and approves it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, noBrowser } from '../support/browser.ts';
import { PHONES, startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { createUser } from '../support/tokens.ts';
import { approvalStatus, createApproval } from '../support/onetouch.ts';

const skip = noBrowser;

let t: TestApp;
let base: string;
let browser: Browser;
let page: Page;
before(async () => {
  if (skip) return;
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL('../../sdk/device/src/index.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
  });
  t = await startApp();
  t.of.server.get('/sdk-test/sdk.js', async (_req, reply) => reply.type('text/javascript').send(bundle.outputFiles[0].text));
  t.of.server.get('/sdk-test/', async (_req, reply) =>
    reply.type('text/html').send('<!doctype html><title>sdk</title><script type="module">import * as sdk from "/sdk-test/sdk.js"; window.sdk = sdk; document.title = "ready";</script>'),
  );
  base = await t.listen();
  browser = await launchBrowser();
  page = await browser.newPage();
  await page.goto(`${base}/sdk-test/`);
  await page.waitForFunction(() => document.title === 'ready');
});
after(async () => {
  if (skip) return;
  await browser.close();
  await t.close();
});

const token = async (id: number) => (await call(t.of.server, 'POST', '/protected/json/sdk/registrations', { key: t.apiKey, form: `authy_id=${id}` })).json.registration_token as string;

test('register (ES256 and Ed25519) in the browser; the code it computes verifies', { skip }, async () => {
  for (const [i, algorithm] of (['ES256', 'Ed25519'] as const).entries()) {
    const id = await createUser(t, `browser${i}@example.com`, PHONES.us[i]);
    const code = await page.evaluate(
      async ({ token, id, algorithm }) => {
        const { OpenFactorDevice } = (window as any).sdk;
        const device = await OpenFactorDevice.registerWithToken(location.origin, token, { algorithm, osType: 'chrome' });
        return device.code(id);
      },
      { token: await token(id), id, algorithm },
    );
    const v = await call(t.of.server, 'GET', `/protected/json/verify/${code}/${id}`, { key: t.apiKey });
    assert.equal(v.status, 200, `${algorithm}: ${v.text}`);
    assert.equal(v.json.device.os_type, 'chrome');
  }
});

test('kept in localStorage, restored after a reload; hears of a request over SSE and approves it', { skip }, async () => {
  const id = await createUser(t, 'listener@example.com', PHONES.us[2]);
  const deviceId = await page.evaluate(async (tk) => {
    const { OpenFactorDevice, JsonStorage } = (window as any).sdk;
    const device = await OpenFactorDevice.registerWithToken(location.origin, tk, { storage: new JsonStorage(localStorage, 'of-device') });
    return device.id;
  }, await token(id));
  await page.reload();
  await page.waitForFunction(() => document.title === 'ready');
  // After the reload: restore, listen, and approve the first request that arrives.
  const answered = page.evaluate(async () => {
    const { OpenFactorDevice, JsonStorage } = (window as any).sdk;
    const device = await OpenFactorDevice.restore(new JsonStorage(localStorage, 'of-device'));
    const stop = new AbortController();
    let result: unknown;
    await device.listen(
      async (request: { message: string }) => {
        result = { id: device.id, message: request.message, answer: await device.approve(request) };
        stop.abort();
      },
      { signal: stop.signal },
    );
    return result as { id: number; message: string; answer: { approval_request: { status: string } } };
  });
  await new Promise((r) => setTimeout(r, 500));
  const r = await createApproval(t, id, { message: 'Approve from Chromium' });
  const got = await answered;
  assert.equal(got.id, deviceId);
  assert.equal(got.message, 'Approve from Chromium');
  assert.equal(got.answer.approval_request.status, 'approved');
  assert.equal((await approvalStatus(t, r.json.approval_request.uuid)).json.approval_request.status, 'approved');
});
