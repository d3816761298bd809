// users/{id}/secret: a link to a PNG QR code that any Google-Authenticator-style app can scan.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { createUser, verifyUrl } from '../support/tokens.ts';
import { scanSecret } from '../support/qr.ts';
import { totp } from '../../src/core/otp.ts';

let t: TestApp;
before(async () => {
  t = await startApp();
  await t.of.services.applications.updateSettings(t.appId, { verifyMaxFailures: 1000 });
});
after(() => t.close());

const get = (url: string) => call(t.of.server, 'GET', url, { key: t.apiKey });

test('the body as the reference gives it, and the QR holds a standard otpauth URI', async () => {
  const id = await createUser(t, 'jane@example.com', '415-555-0161');
  const { uri, secret, width, body } = await scanSecret(t, id);
  assert.deepEqual(Object.keys(body), ['label', 'Issuer', 'qr_code', 'message', 'success']);
  assert.equal(body.label, 'Test Bank(jane@example.com)');
  assert.equal(body.Issuer, 'Test Bank');
  assert.match(body.qr_code, /^http:\/\/localhost(:\d+)?\/qr\/[\w-]+\.png$/);
  assert.equal(body.success, true);

  assert.equal(uri.protocol, 'otpauth:');
  assert.equal(uri.host, 'totp');
  assert.equal(decodeURIComponent(uri.pathname), '/Test Bank:jane@example.com');
  assert.equal(uri.searchParams.get('issuer'), 'Test Bank');
  assert.equal(uri.searchParams.get('digits'), '6');
  assert.equal(uri.searchParams.get('period'), '30');
  assert.equal(uri.searchParams.get('algorithm'), 'SHA1');
  assert.equal(secret.length, 20);
  assert.equal(width, 256, 'default side');

  const r = await get(verifyUrl(totp(secret, Date.now(), { digits: 6 }), id, '?force=true'));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.token, 'is valid');
  assert.equal(r.json.device.os_type, 'authenticator');
});

test('label and qr_size: the label shows in the app; sizes above 320 get 320', async () => {
  const id = await createUser(t, 'label@example.com', '415-555-0162');
  const a = await scanSecret(t, id, 'label=Jane%27s%20phone&qr_size=300');
  assert.equal(a.body.label, "Test Bank(Jane's phone)");
  assert.equal(decodeURIComponent(a.uri.pathname), "/Test Bank:Jane's phone");
  assert.equal(a.width, 300);
  const b = await scanSecret(t, id, 'label=&qr_size=1000');
  assert.equal(b.width, 320);
  assert.equal(b.body.label, 'Test Bank(label@example.com)', 'an empty label (authy-ruby sends one) means the email');
  const bad = await call(t.of.server, 'POST', `/protected/json/users/${id}/secret`, { key: t.apiKey, form: 'qr_size=big' });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error_code, '60004');
});

test('a new secret replaces the previous one', async () => {
  const id = await createUser(t, 'replace@example.com', '415-555-0163');
  const first = await scanSecret(t, id);
  const second = await scanSecret(t, id);
  assert.notDeepEqual(first.secret, second.secret);
  const old = await get(verifyUrl(totp(first.secret, Date.now(), { digits: 6 }), id, '?force=true'));
  assert.equal(old.status, 401);
  const now = await get(verifyUrl(totp(second.secret, Date.now(), { digits: 6 }), id, '?force=true'));
  assert.equal(now.status, 200);
  // The first link is dead too.
  const link = new URL(first.body.qr_code);
  assert.equal((await t.of.server.inject({ method: 'GET', url: link.pathname })).statusCode, 404);
});

test('the image is served without an API key for 24 hours only', async () => {
  const id = await createUser(t, 'expiry@example.com', '415-555-0164');
  const { body } = await scanSecret(t, id);
  const path = new URL(body.qr_code).pathname;
  const ok = await t.of.server.inject({ method: 'GET', url: path });
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.headers['content-type'], 'image/png');
  const row = await t.store.db.selectFrom('authenticators').select('qr_expires_at').where('user_id', '=', id).executeTakeFirstOrThrow();
  const created = Date.now();
  assert.ok(Math.abs(Number(row.qr_expires_at) - (created + 24 * 3600_000)) < 60_000);
  await t.store.db.updateTable('authenticators').set({ qr_expires_at: Date.now() - 1 }).where('user_id', '=', id).execute();
  const gone = await t.of.server.inject({ method: 'GET', url: path });
  assert.equal(gone.statusCode, 404);
  assert.equal(JSON.parse(gone.body).success, false);
  assert.equal((await t.of.server.inject({ method: 'GET', url: '/qr/not-a-real-token-at-all.png' })).statusCode, 404);
});

test('the generic-authenticator setting gates the endpoint (60123 when off)', async () => {
  const app = await t.newApplication('No Generic');
  await t.of.services.applications.updateSettings(app.id, { genericTokensEnabled: false });
  const id = await createUser(t, 'off@example.com', '415-555-0165', '1', app.apiKey);
  const r = await call(t.of.server, 'POST', `/protected/json/users/${id}/secret`, { key: app.apiKey });
  assert.equal(r.status, 400);
  assert.equal(r.json.error_code, '60123');
  const unknown = await call(t.of.server, 'POST', '/protected/json/users/999999/secret', { key: t.apiKey });
  assert.equal(unknown.status, 404);
});

test('qr_code links use the scheme and host of the request', async () => {
  // The default base is the request's scheme and host; behind a proxy the operator sets it.
  const id = await createUser(t, 'host@example.com', '415-555-0166');
  const r = await call(t.of.server, 'POST', `/protected/json/users/${id}/secret`, { key: t.apiKey, headers: { host: 'auth.example.net' } });
  assert.match(r.json.qr_code, /^http:\/\/auth\.example\.net\/qr\//);
});
