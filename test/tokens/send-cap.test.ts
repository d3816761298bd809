// Sends are capped per user per hour: SMS, voice and email codes share the allowance.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, startApp, testEnv, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { createUser } from '../support/tokens.ts';
import { createUserOver, runCli, spawnServers } from '../support/process.ts';

let t: TestApp;
before(async () => {
  t = await startApp();
});
after(() => t.close());

const get = (url: string) => call(t.of.server, 'GET', url, { key: t.apiKey });

test('the 11th code in an hour is refused with the DoS message (default 10 per user per hour)', async () => {
  const id = await createUser(t, 'cap@example.com', '415-555-0141');
  for (let i = 0; i < 10; i++) {
    const r = await get(`/protected/json/${i % 2 ? 'sms' : 'call'}/${id}?force=true`);
    assert.equal(r.status, 200, `send ${i + 1}: ${r.text}`);
  }
  for (const path of [`sms/${id}`, `call/${id}`]) {
    const r = await get(`/protected/json/${path}?force=true`);
    assert.equal(r.status, 429);
    assert.equal(
      r.text,
      '{"message":"DoS protection: User has requested too many tokens in the last hour.","success":false,"errors":{"message":"DoS protection: User has requested too many tokens in the last hour."},"error_code":"60003"}',
    );
  }
  const email = await call(t.of.server, 'POST', `/protected/json/email/${id}`, { key: t.apiKey });
  assert.equal(email.status, 429);
  assert.equal((await t.of.services.outbox.recent({ limit: 100 })).length, 10, 'nothing more was queued');

  const other = await createUser(t, 'cap-other@example.com', '415-555-0142');
  assert.equal((await get(`/protected/json/sms/${other}`)).status, 200, 'other users are unaffected');
});

test('the cap is an application setting', async () => {
  await t.of.services.applications.updateSettings(t.appId, { sendsPerHour: 2 });
  const id = await createUser(t, 'cap2@example.com', '415-555-0143');
  assert.equal((await get(`/protected/json/sms/${id}`)).status, 200);
  assert.equal((await get(`/protected/json/sms/${id}`)).status, 200);
  assert.equal((await get(`/protected/json/sms/${id}`)).status, 429);
});

test('sends at once on two servers: each user gets exactly its hourly cap, the application exactly its daily budget', async () => {
  const db = await createTestDatabase();
  const env = testEnv(db);
  try {
    const { id: appId, api_key: key } = JSON.parse(runCli(['apps', 'create', '--name', 'Burst', '--json'], env).stdout);
    // The user's hour (7) and the application's day (18) bind; the number's and prefix's do not.
    runCli(['apps', 'settings', '--app', String(appId), '--sends-per-hour', '7', '--daily-send-budget', '18', '--sends-per-number-hour', '1000', '--sends-per-number-day', '1000', '--prefix-sends-per-window', '100000', '--country-sends-per-window', '100000'], env);
    const servers = await spawnServers(2, env);
    try {
      const users = [];
      for (const phone of ['4155550191', '4155550192', '4155550193']) users.push(await createUserOver(servers[0].url, key, phone));
      // 40 sends for each user, every other one on the other server, all at once.
      const asked = users.flatMap((id) => Array.from({ length: 40 }, (_, i) => ({ id, url: servers[i % 2].url })));
      const answers = await Promise.all(asked.map(async ({ id, url }) => ({ id, status: (await fetch(`${url}/protected/json/sms/${id}?force=true`, { headers: { 'x-authy-api-key': key } })).status })));
      assert.deepEqual([...new Set(answers.map((a) => a.status))].sort(), [200, 429], 'only sent or refused');
      const sent = answers.filter((a) => a.status === 200);
      assert.equal(sent.length, 18, 'the daily budget, exactly');
      for (const id of users) assert.ok(sent.filter((a) => a.id === id).length <= 7, `user ${id}: at most its hourly cap`);
      // Every user's own count was kept: a user that got fewer than 7 still has the rest of its hour,
      // but the budget is spent for everyone.
      const more = await fetch(`${servers[1].url}/protected/json/sms/${users[0]}?force=true`, { headers: { 'x-authy-api-key': key } });
      assert.equal(more.status, 429);
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  } finally {
    await db.drop();
  }
});

test('sends at once on two servers for one user: exactly its hourly cap', async () => {
  const db = await createTestDatabase();
  const env = testEnv(db);
  try {
    const { id: appId, api_key: key } = JSON.parse(runCli(['apps', 'create', '--name', 'Burst one', '--json'], env).stdout);
    runCli(['apps', 'settings', '--app', String(appId), '--sends-per-hour', '9', '--sends-per-number-hour', '1000', '--sends-per-number-day', '1000', '--prefix-sends-per-window', '100000', '--country-sends-per-window', '100000'], env);
    const servers = await spawnServers(2, env);
    try {
      const id = await createUserOver(servers[0].url, key, '4155550194');
      const statuses = await Promise.all(
        Array.from({ length: 100 }, async (_, i) => (await fetch(`${servers[i % 2].url}/protected/json/sms/${id}?force=true`, { headers: { 'x-authy-api-key': key } })).status),
      );
      assert.equal(statuses.filter((s) => s === 200).length, 9);
      assert.equal(statuses.filter((s) => s === 429).length, 91);
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  } finally {
    await db.drop();
  }
});
