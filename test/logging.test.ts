// No API key, phone number or token in a log line, even with the access log on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, testEnv } from './support/harness.ts';
import { runCli, spawnServer } from './support/process.ts';

test('access log lines carry method, path and status, never secrets or phone numbers', async () => {
  const db = await createTestDatabase();
  const env = { ...testEnv(db), OPENFACTOR_ACCESS_LOG: '1' };
  try {
    const { api_key: key } = JSON.parse(runCli(['apps', 'create', '--name', 'Logs', '--json'], env).stdout);
    const server = await spawnServer(env);
    try {
      const phone = '4155550177';
      const created = await fetch(`${server.url}/protected/json/users/new?api_key=${key}&user[cellphone]=${phone}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `user[email]=log%40example.com&user[country_code]=1&api_key=${key}`,
      });
      assert.equal(created.status, 200);
      const id = (await created.json()).user.id;
      await fetch(`${server.url}/protected/json/users/${id}/status`, { headers: { 'x-authy-api-key': key } });
      await fetch(`${server.url}/protected/json/verify/7654321/${id}?api_key=${key}`);
      await fetch(`${server.url}/protected/json/users/${id}/status?api_key=wrong-${key}`);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await server.stop();
    }
    const lines = server.output().split('\n').filter((l) => l.startsWith('{'));
    const access = lines.filter((l) => JSON.parse(l).msg === 'request');
    assert.ok(access.length >= 4, server.output());
    assert.ok(access.some((l) => /"path":"\/protected\/json\/users\/new","status":200/.test(l)));
    for (const line of lines) {
      assert.equal(line.includes(key), false, `API key in: ${line}`);
      assert.equal(line.includes('5550177'), false, `phone in: ${line}`);
      assert.equal(line.includes('7654321'), false, `token in: ${line}`);
    }
  } finally {
    await db.drop();
  }
});
