// No API key, phone number or token in a log line, even with the access log on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, testEnv } from './support/harness.ts';
import { createUserOver, outboxLines, runCli, spawnServer } from './support/process.ts';

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

test('codes, seeds, QR links and phone numbers never reach a log line (debug level, access log on)', async () => {
  const db = await createTestDatabase();
  const env = { ...testEnv(db), OPENFACTOR_ACCESS_LOG: '1' };
  try {
    const { id: appId, api_key: key } = JSON.parse(runCli(['apps', 'create', '--name', 'Logs', '--json'], env).stdout);
    runCli(['apps', 'settings', '--app', String(appId), '--verify-max-failures', '2'], env);
    const server = await spawnServer({ ...env, LOG_LEVEL: 'debug' });
    const secrets: string[] = [];
    try {
      const headers = { 'x-authy-api-key': key };
      const id = await createUserOver(server.url, key, '4155550178');
      await fetch(`${server.url}/protected/json/sms/${id}?force=true`, { headers });
      await fetch(`${server.url}/protected/json/call/${id}?force=true`, { headers });
      await fetch(`${server.url}/protected/json/email/${id}`, { method: 'POST', headers });
      let messages: { text?: string }[] = [];
      for (let i = 0; i < 100 && !(messages.length === 3 && messages.every((m) => m.text)); i++) {
        await new Promise((r) => setTimeout(r, 100));
        messages = outboxLines(env);
      }
      const [sms] = messages.filter((m) => /verification code is: \d{7}/.test(m.text ?? ''));
      const code = /\d{7}/.exec(sms.text!)![0];
      secrets.push(code);
      await fetch(`${server.url}/protected/json/verify/${code}/${id}?force=true`, { headers });
      // Two wrong tokens reach the cap (set to 2): the lockout line is written.
      for (const wrong of ['8765432', '8765433']) {
        secrets.push(wrong);
        await fetch(`${server.url}/protected/json/verify/${wrong}/${id}?force=true`, { headers });
      }
      const qr = await (await fetch(`${server.url}/protected/json/users/${id}/secret`, { method: 'POST', headers })).json();
      const qrName = new URL(qr.qr_code).pathname.split('/').pop()!.replace('.png', '');
      secrets.push(qrName);
      assert.equal((await fetch(qr.qr_code)).status, 200);
      await new Promise((r) => setTimeout(r, 300));
      const output = server.output();
      assert.match(output, /verify_lockout/, 'the lockout is logged');
      assert.match(output, /console delivery/);
      assert.match(output, /\/qr\/\[redacted\]/, 'the QR request is logged without its name');
      const lines = output.split('\n').filter((l) => l.startsWith('{'));
      for (const line of lines) {
        for (const s of secrets) assert.equal(line.includes(s), false, `secret ${s} in: ${line}`);
        assert.equal(line.includes('5550178'), false, `phone in: ${line}`);
        assert.equal(/v[12]\.[0-9a-f]{8}\./.test(line), false, `sealed value in: ${line}`);
      }
    } finally {
      await server.stop();
    }
  } finally {
    await db.drop();
  }
});
