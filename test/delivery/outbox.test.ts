// The delivery outbox: messages are rows; the console provider keeps them readable for a
// developer (CLI and admin API); a crash between accepting and sending loses nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, startApp, testEnv, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { until } from '../support/wait.ts';
import { createUserOver, outboxLines, runCli, spawnServer } from '../support/process.ts';
import { codeIn, createUser, delivered } from '../support/tokens.ts';

let t: TestApp;
before(async () => {
  t = await startApp();
});
after(() => t.close());

test('a sent code is a row: channel, destination, sealed text, locale, status, attempts, provider result', async () => {
  const id = await createUser(t, 'row@example.com', '415-555-0171');
  await call(t.of.server, 'GET', `/protected/json/sms/${id}`, { key: t.apiKey });
  const m = await delivered(t, '+14155550171');
  const row = await t.store.db.selectFrom('outbox').selectAll().where('sid', '=', m.id).executeTakeFirstOrThrow();
  assert.equal(row.app_id, t.appId);
  assert.equal(row.channel, 'sms');
  assert.equal(row.status, 'sent');
  assert.equal(row.attempts, 1);
  assert.equal(row.provider, 'console');
  assert.equal(row.provider_message_id, `console-${m.id}`);
  assert.match(row.sid, /^SM[0-9a-f]{32}$/);
  const code = codeIn(m.text, 7);
  assert.ok(!row.text_sealed.includes(code), 'the stored text is sealed');
  const codes = await t.store.db.selectFrom('sent_codes').selectAll().where('user_id', '=', id).execute();
  assert.equal(codes.length, 1);
  assert.ok(!JSON.stringify(codes).includes(code), 'only a keyed hash of the code is stored');
});

test('the admin API lists recent messages with their texts, behind the admin token', async () => {
  const id = await createUser(t, 'admin@example.com', '415-555-0172');
  await call(t.of.server, 'GET', `/protected/json/call/${id}`, { key: t.apiKey });
  const m = await delivered(t, '+14155550172');
  const none = await t.of.server.inject({ method: 'GET', url: '/admin/outbox' });
  assert.equal(none.statusCode, 401);
  const wrong = await t.of.server.inject({ method: 'GET', url: '/admin/outbox', headers: { authorization: 'Bearer nope' } });
  assert.equal(wrong.statusCode, 401);
  const ok = await t.of.server.inject({ method: 'GET', url: `/admin/outbox?limit=5&app_id=${t.appId}`, headers: { authorization: `Bearer ${t.config.adminToken}` } });
  assert.equal(ok.statusCode, 200);
  const body = JSON.parse(ok.body);
  assert.equal(body.messages[0].id, m.id);
  assert.equal(body.messages[0].text, m.text);
  assert.equal(body.messages[0].destination, '+14155550172');
  assert.ok(body.messages.length <= 5);
});

test('/metrics answers only with the metrics token or the admin token; the admin API takes only the admin token', async () => {
  const m = await startApp({ OPENFACTOR_METRICS_TOKEN: 'scrape-me-0123456789' });
  try {
    const get = (url: string, token?: string) => m.of.server.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });
    for (const refused of [await get('/metrics'), await get('/metrics', 'nope'), await get('/metrics', 'scrape-me-012345678')]) {
      assert.equal(refused.statusCode, 401);
      assert.equal(refused.headers['www-authenticate'], 'Bearer');
      assert.deepEqual(JSON.parse(refused.body), { message: 'Invalid metrics token', success: false, errors: { message: 'Invalid metrics token' }, error_code: '60001' });
    }
    for (const token of ['scrape-me-0123456789', m.config.adminToken]) {
      const ok = await get('/metrics', token);
      assert.equal(ok.statusCode, 200);
      assert.match(ok.headers['content-type'] as string, /^text\/plain/);
      assert.match(ok.body, /# TYPE openfactor_delivery_messages_total counter/);
    }
    assert.equal((await get('/admin/outbox', 'scrape-me-0123456789')).statusCode, 401, 'the metrics token opens nothing else');
  } finally {
    await m.close();
  }
});

test('`openfactor outbox --json`: one JSON object per line, newest first, with destination and text', async () => {
  const db = await createTestDatabase();
  const env = testEnv(db);
  try {
    const { api_key: key } = JSON.parse(runCli(['apps', 'create', '--name', 'CLI Outbox', '--json'], env).stdout);
    const server = await spawnServer(env);
    try {
      const id = await createUserOver(server.url, key, '4155550173');
      await fetch(`${server.url}/protected/json/sms/${id}`, { headers: { 'x-authy-api-key': key } });
      let lines: any[] = [];
      for (let i = 0; i < 100; i++) {
        lines = outboxLines(env);
        if (lines[0]?.status === 'sent') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(lines.length, 1);
      assert.equal(lines[0].destination, '+14155550173');
      assert.equal(lines[0].channel, 'sms');
      assert.match(codeIn(lines[0].text, 7), /^\d{7}$/);
      const human = runCli(['outbox'], env).stdout;
      assert.match(human, /\+14155550173 {2}sent/);
      assert.ok(human.includes(lines[0].text));
      // The server's log names the message but never its code or the full number. (runCli blocks
      // this process, so let the server's output arrive first.)
      await new Promise((r) => setTimeout(r, 300));
      assert.match(server.output(), /console delivery/);
      assert.ok(!server.output().includes(codeIn(lines[0].text, 7)));
      assert.ok(!server.output().includes('4155550173'));
    } finally {
      await server.stop();
    }
  } finally {
    await db.drop();
  }
});

test('kill -9 after accepting and before sending: the messages are sent after the restart, each once', async () => {
  const db = await createTestDatabase();
  const env = testEnv(db);
  try {
    const { id: appId, api_key: key } = JSON.parse(runCli(['apps', 'create', '--name', 'Crash Outbox', '--json'], env).stdout);
    const settings = runCli(['apps', 'settings', '--app', String(appId), '--sends-per-hour', '100', '--sends-per-number-hour', '100', '--prefix-sends-per-window', '100', '--json'], env);
    assert.equal(JSON.parse(settings.stdout).sendsPerHour, 100, settings.stderr);
    // This node only accepts messages (OPENFACTOR_OUTBOX_WORKER=off), so every accepted message
    // is still unsent when it dies.
    const acceptor = await spawnServer({ ...env, OPENFACTOR_OUTBOX_WORKER: 'off' });
    const headers = { 'x-authy-api-key': key, 'content-type': 'application/x-www-form-urlencoded' };
    const id = await createUserOver(acceptor.url, key, '4155550174');
    const N = 12;
    const sends = await Promise.all(Array.from({ length: N }, (_, i) => fetch(`${acceptor.url}/protected/json/${i % 3 ? 'sms' : 'call'}/${id}`, { headers })));
    assert.ok(sends.every((r) => r.status === 200));
    await acceptor.kill9();
    const queued = outboxLines(env);
    assert.equal(queued.length, N);
    assert.ok(queued.every((m) => m.status === 'queued'));

    const sender = await spawnServer(env);
    try {
      let after: any[] = [];
      for (let i = 0; i < 100; i++) {
        after = outboxLines(env);
        if (after.every((m) => m.status === 'sent')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(after.length, N);
      assert.ok(after.every((m) => m.status === 'sent' && m.attempts === 1), JSON.stringify(after.map((m) => [m.status, m.attempts])));
      // The log lines come through a pipe: give them a moment to arrive, then count them.
      const deliveries = () => (sender.output().match(/console delivery/g) ?? []).length;
      for (let i = 0; i < 50 && deliveries() < N; i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(deliveries(), N, 'each message was handed to the provider exactly once');
    } finally {
      await sender.stop();
    }
  } finally {
    await db.drop();
  }
});

test('messages sent together are each marked sent once, with the provider call that took them, and counted in their own application, SMS and calls apart', async () => {
  const other = await t.newApplication('Sent Together');
  const apps = [{ id: t.appId, key: t.apiKey }, { id: other.id, key: other.apiKey }];
  const statsOf = async (key: string) => (await call(t.of.server, 'GET', '/protected/json/app/stats', { key })).json.stats.at(-1) ?? { sms_count: 0, calls_count: 0 };
  const before = await Promise.all(apps.map((a) => statsOf(a.key)));
  for (const a of apps) {
    await t.of.services.applications.updateSettings(a.id, { sendsPerHour: 1000, sendsPerNumberHour: 1000, sendsPerNumberDay: 1000, prefixSendsPerWindow: 1000, countrySendsPerWindow: 1000 });
  }
  // Per application: 8 users, each sent an SMS and called, all at once, so the worker hands
  // many messages to the provider in one turn and records them together.
  const users = await Promise.all(apps.flatMap((a, ai) => Array.from({ length: 8 }, (_, i) => createUser(t, `together-${ai}-${i}@example.com`, `415-555-015${i}`, '1', a.key).then((id) => ({ ...a, userId: id })))));
  const sent = await Promise.all(users.flatMap((u) => ['sms', 'call'].map((path) => call(t.of.server, 'GET', `/protected/json/${path}/${u.userId}?force=true`, { key: u.key }))));
  assert.ok(sent.every((r) => r.status === 200), sent.map((r) => r.text).join('\n'));
  await until('every message marked sent', async () => {
    const rows = await t.store.db.selectFrom('outbox').select('status').where('app_id', 'in', apps.map((a) => a.id)).where('user_id', 'in', users.map((u) => u.userId)).execute();
    return rows.length === 32 && rows.every((r) => r.status === 'sent');
  }, 20_000);
  // Each one's provider call recorded as the one that took it, with the provider's id.
  const messages = await t.store.db.selectFrom('outbox').select(['sid', 'provider_message_id']).where('user_id', 'in', users.map((u) => u.userId)).execute();
  for (const m of messages) {
    const calls = await t.of.services.outbox.attempts(m.sid);
    assert.deepEqual(calls.map((c) => [c.outcome, c.provider_message_id]), [['accepted', m.provider_message_id]], m.sid);
  }
  const after = await Promise.all(apps.map((a) => statsOf(a.key)));
  for (const i of [0, 1]) {
    assert.equal(after[i].sms_count - before[i].sms_count, 8, `application ${i + 1}: 8 SMS counted`);
    assert.equal(after[i].calls_count - before[i].calls_count, 8, `application ${i + 1}: 8 calls counted`);
  }
});
