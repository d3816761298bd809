// Applications: details, monthly stats, key rotation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, PHONES, type TestApp } from '../support/harness.ts';
import { call, userForm } from '../support/http.ts';

let t: TestApp;
before(async () => {
  t = await startApp();
});
after(() => t.close());

test('app details: exact body, the application bound to the key', async () => {
  const r = await call(t.of.server, 'GET', '/protected/json/app/details?user_ip=10.1.2.3', { key: t.apiKey });
  assert.equal(r.status, 200);
  assert.equal(
    r.text,
    `{"app":{"name":"Test Bank","plan":"self_hosted","sms_enabled":true,"phone_calls_enabled":true,"app_id":${t.appId},"onetouch_enabled":true,"white_label":false},"message":"Application information.","success":true}`,
  );
});

test('app stats: one row per month with exactly the seven keys, counting users and API calls', async () => {
  const other = await t.newApplication('Stats App');
  const ids: number[] = [];
  for (const phone of PHONES.us.slice(0, 3)) {
    const r = await call(t.of.server, 'POST', '/protected/json/users/new', { key: other.apiKey, form: userForm('s@example.com', phone) });
    ids.push(r.json.user.id);
  }
  // Same phone again: same user, not a new one.
  await call(t.of.server, 'POST', '/protected/json/users/new', { key: other.apiKey, form: userForm('t@example.com', PHONES.us[0]) });
  await call(t.of.server, 'GET', `/protected/json/users/${ids[0]}/status`, { key: other.apiKey });
  await call(t.of.server, 'POST', `/protected/json/users/${ids[2]}/remove`, { key: other.apiKey });

  const r = await call(t.of.server, 'GET', '/protected/json/app/stats', { key: other.apiKey });
  assert.equal(r.status, 200);
  const now = new Date();
  const month = now.toLocaleString('en-US', { month: 'long', timeZone: 'UTC' });
  assert.deepEqual(r.json, {
    stats: [{ sms_count: 0, calls_count: 0, users_count: 3, auths_count: 0, month, api_calls_count: 7, year: now.getUTCFullYear() }],
    message: 'Monthly statistics.',
    count: 1,
    total_users: 2,
    app_id: other.id,
    success: true,
  });
  assert.deepEqual(Object.keys(r.json), ['stats', 'message', 'count', 'total_users', 'app_id', 'success']);
  assert.deepEqual(Object.keys(r.json.stats[0]), ['sms_count', 'calls_count', 'users_count', 'auths_count', 'month', 'api_calls_count', 'year']);
});

test('stats cover every month since the application was created, at most twelve', async () => {
  const created = Date.UTC(2026, 2, 15); // mid-March
  const app = { ...(await t.of.services.applications.find(t.appId))!, createdAt: created };
  const june = await t.of.services.applications.stats(app, Date.UTC(2026, 5, 2));
  assert.deepEqual(june.stats.map((s) => `${s.month} ${s.year}`), ['March 2026', 'April 2026', 'May 2026', 'June 2026']);
  const later = await t.of.services.applications.stats(app, Date.UTC(2028, 0, 10));
  assert.equal(later.count, 12);
  assert.deepEqual([later.stats[0].month, later.stats[0].year, later.stats[11].month, later.stats[11].year], ['February', 2027, 'January', 2028]);
});

test('keys rotate: the new key works and the old one stops at once', async () => {
  const app = await t.newApplication('Rotating');
  const fresh = await t.of.services.applications.rotateKey(app.id);
  assert.ok(fresh && fresh !== app.apiKey);
  const old = await call(t.of.server, 'GET', '/protected/json/app/details', { key: app.apiKey });
  assert.equal(old.status, 401);
  const now = await call(t.of.server, 'GET', '/protected/json/app/details', { key: fresh });
  assert.equal(now.json.app.app_id, app.id);
});

test('API keys are stored as a SHA-256 hash and a sealed copy, never in clear', async () => {
  const rows = await t.store.db.selectFrom('applications').selectAll().execute();
  const dump = JSON.stringify(rows);
  assert.equal(dump.includes(t.apiKey), false);
  const row = rows.find((r) => r.id === t.appId)!;
  assert.match(row.api_key_hash, /^[0-9a-f]{64}$/);
  assert.match(row.api_key_sealed, /^v2\.[0-9a-f]{8}\.[A-Za-z0-9_-]+$/);
  const { unseal } = await import('../../src/core/crypto.ts');
  assert.equal(unseal(t.config.masterKeys, row.api_key_sealed, `applications:${t.appId}:api_key`).toString(), t.apiKey);
  assert.throws(() => unseal(t.config.masterKeys, row.api_key_sealed, `applications:${t.appId + 1}:api_key`), 'bound to its row');
});
