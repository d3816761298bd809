// Strict isolation: application A can never read, change or remove application B's users.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, PHONES, type TestApp } from '../support/harness.ts';
import { call, userForm } from '../support/http.ts';

let t: TestApp;
before(async () => {
  t = await startApp();
});
after(() => t.close());

test("application A cannot see, change or remove application B's users", async () => {
  const a = { apiKey: t.apiKey };
  const b = await t.newApplication('Bank B');
  const userB = (await call(t.of.server, 'POST', '/protected/json/users/new', { key: b.apiKey, form: userForm('b@example.com', PHONES.us[0]) })).json.user.id;

  const notFound = '{"message":"User not found.","success":false,"errors":{"message":"User not found."},"error_code":"60026"}';
  const probes: [string, string, string?][] = [
    ['GET', `/protected/json/users/${userB}/status`],
    ['POST', `/protected/json/users/${userB}/remove`],
    ['POST', `/protected/json/users/${userB}/delete`],
    ['POST', `/protected/json/users/delete/${userB}`],
    ['POST', `/protected/json/users/${userB}/register_activity`, 'type=banned'],
  ];
  for (const [method, url, form] of probes) {
    const r = await call(t.of.server, method, url, { key: a.apiKey, form });
    assert.equal(r.status, 404, `${method} ${url}`);
    assert.equal(r.text, notFound);
  }
  // The same phone enrolled by A is A's own user, with another id.
  const userA = (await call(t.of.server, 'POST', '/protected/json/users/new', { key: a.apiKey, form: userForm('a@example.com', PHONES.us[0]) })).json.user.id;
  assert.notEqual(userA, userB);

  // B's user is untouched: same email, no activity, still there.
  const s = await call(t.of.server, 'GET', `/protected/json/users/${userB}/status`, { key: b.apiKey });
  assert.equal(s.json.status.email, 'b@example.com');
  const acts = await t.store.db.selectFrom('activities').selectAll().where('user_id', '=', userB).execute();
  assert.equal(acts.length, 0);

  // Stats are per application.
  const statsA = (await call(t.of.server, 'GET', '/protected/json/app/stats', { key: a.apiKey })).json;
  const statsB = (await call(t.of.server, 'GET', '/protected/json/app/stats', { key: b.apiKey })).json;
  assert.equal(statsA.total_users, 1);
  assert.equal(statsB.total_users, 1);
  assert.equal(statsB.app_id, b.id);
  assert.notEqual(statsA.app_id, statsB.app_id);
});
