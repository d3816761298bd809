// `GET users/{id}/phone_number` (wire reference §2.12): the full number, for an application that
// moves its users elsewhere. Off unless the application turns it on. Its answers are what
// `users import` reads, so an export from one OpenFactor imports into another with the same ids.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { codeIn, createUser, delivered } from '../support/tokens.ts';
import { importUsers } from '../../src/features/users/import.ts';

let t: TestApp;
before(async () => {
  t = await startApp();
});
after(() => t.close());

const exportOf = (id: number | string, key = t.apiKey, format = 'json') => call(t.of.server, 'GET', `/protected/${format}/users/${id}/phone_number`, { key });
const setExport = (appId: number, on: boolean) =>
  call(t.of.server, 'POST', `/admin/applications/${appId}/settings`, { headers: { authorization: `Bearer ${t.config.adminToken}` }, json: { phoneExportEnabled: on } });

test('off by default (60154, whether or not the user exists); on, the number as Authy gives it', async () => {
  const ana = await createUser(t, 'ana@example.com', '415-555-0142');
  const rui = await createUser(t, 'rui@example.com', '912 345 678', '351');
  for (const id of [ana, 999_999]) {
    const off = await exportOf(id);
    assert.equal(off.status, 400);
    assert.equal(off.json.error_code, '60154');
    assert.equal(off.json.success, false);
  }

  assert.equal((await setExport(t.appId, true)).status, 200);
  const r = await exportOf(ana);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json), ['phone_number', 'country_code', 'e164', 'updated_at']);
  assert.equal(r.json.phone_number, '415-555-0142');
  assert.equal(r.json.country_code, '1', 'a string, as Authy sends it');
  assert.equal(r.json.e164, '+14155550142');
  assert.ok(Date.parse(r.json.updated_at) <= Date.now());
  assert.deepEqual([(await exportOf(rui)).json.phone_number, (await exportOf(rui)).json.country_code], ['912-345-678', '351']);
  const xml = await exportOf(ana, t.apiKey, 'xml');
  assert.equal(xml.status, 200);
  assert.match(xml.text, /<e164>\+14155550142<\/e164>/);

  const unknown = await exportOf(999_999);
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.error_code, '60026');
  assert.equal((await exportOf('4294967296')).status, 404);
  // Another application's user, even with the export on there, is not this key's.
  const other = await t.newApplication('Other Co');
  await setExport(other.id, true);
  assert.equal((await exportOf(ana, other.apiKey)).status, 404);

  assert.equal((await setExport(t.appId, false)).status, 200);
  assert.equal((await exportOf(ana)).json.error_code, '60154', 'turned off again');
});

test('exported from one OpenFactor, imported into another: the same ids reach the same phones', async () => {
  await setExport(t.appId, true);
  const ids = [await createUser(t, 'eva@example.com', '212-555-0199'), await createUser(t, 'ivo@example.com', '07400 123456', '44')];
  const lines = await Promise.all(ids.map(async (id) => JSON.stringify({ authy_id: id, email: `user${id}@example.com`, ...(await exportOf(id)).json })));

  const next = await startApp();
  try {
    const app = (await next.of.services.applications.find(next.appId))!;
    const summary = await importUsers({ db: next.store.db, dialect: next.store.dialect, key: next.config.masterKeys[0], contacts: next.of.services.contacts }, app, lines);
    assert.deepEqual(summary, { lines: 2, created: 2, existing: 0, failed: 0 });
    for (const id of ids) {
      const before = (await exportOf(id)).json;
      const s = await call(next.of.server, 'GET', `/protected/json/users/${id}/status`, { key: next.apiKey });
      assert.equal(s.status, 200, s.text);
      assert.equal(String(s.json.status.country_code), before.country_code);
      assert.equal((await call(next.of.server, 'GET', `/protected/json/sms/${id}?force=true`, { key: next.apiKey })).status, 200);
      codeIn((await delivered(next, before.e164)).text, 7);
    }
  } finally {
    await next.close();
  }
});
