// The CLI, with and without a running server, and the first start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createTestDatabase, testEnv, dialect } from './support/harness.ts';
import { runCli, spawnServer } from './support/process.ts';

const details = (url: string, key: string) => fetch(`${url}/protected/json/app/details`, { headers: { 'x-authy-api-key': key } });

test('apps create/list and keys rotate work with the server running and without it', async () => {
  const db = await createTestDatabase();
  const env = testEnv(db);
  try {
    assert.equal(runCli(['migrate'], env).status, 0);
    const made = runCli(['apps', 'create', '--name', 'Offline Bank', '--json'], env);
    assert.equal(made.status, 0, made.stderr);
    const lines = made.stdout.trim().split('\n');
    assert.equal(lines.length, 1, 'one line of JSON');
    const offline = JSON.parse(lines[0]);
    assert.deepEqual(Object.keys(offline), ['id', 'api_key']);
    assert.match(offline.api_key, /^[A-Za-z0-9]{32}$/);

    const server = await spawnServer(env);
    try {
      assert.equal((await details(server.url, offline.api_key)).status, 200, 'a key made before the server started works');

      const online = JSON.parse(runCli(['apps', 'create', '--name', 'Online Bank', '--json'], env).stdout);
      const r = await details(server.url, online.api_key);
      assert.equal(r.status, 200, 'a key made while the server runs works at once');
      assert.equal((await r.json()).app.name, 'Online Bank');

      const human = runCli(['apps', 'create', '--name', 'Plain'], env);
      assert.match(human.stdout, /Created application \d+ "Plain"\.\nAPI key: [A-Za-z0-9]{32}/);

      const list = runCli(['apps', 'list'], env);
      assert.match(list.stdout, new RegExp(`^${offline.id}\\tOffline Bank\\t`, 'm'));
      assert.match(list.stdout, new RegExp(`^${online.id}\\tOnline Bank\\t`, 'm'));
      const listJson = runCli(['apps', 'list', '--json'], env).stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.ok(listJson.some((a) => a.id === online.id && a.name === 'Online Bank'));
      assert.equal(list.stdout.includes(online.api_key), false, 'list never shows keys');

      const rotated = JSON.parse(runCli(['keys', 'rotate', '--app', String(online.id), '--json'], env).stdout);
      assert.notEqual(rotated.api_key, online.api_key);
      assert.equal((await details(server.url, online.api_key)).status, 401, 'the old key stops working');
      assert.equal((await details(server.url, rotated.api_key)).status, 200);

      const missing = runCli(['keys', 'rotate', '--app', '999999'], env);
      assert.equal(missing.status, 1);
      assert.equal(runCli(['apps', 'create'], env).status, 2, 'usage error without --name');
      assert.equal(runCli(['frobnicate'], env).status, 2);
    } finally {
      await server.stop();
    }
  } finally {
    await db.drop();
  }
});

test('the first start creates "Default", prints its key once, and makes a 0600 key file', async () => {
  const db = await createTestDatabase();
  const env = testEnv(db);
  delete env.OPENFACTOR_MASTER_KEY;
  try {
    const first = await spawnServer(env);
    let key: string;
    try {
      const m = /application "Default" \(id (\d+)\)\. Its API key, shown only now:\n\n {2}([A-Za-z0-9]{32})/.exec(first.output());
      assert.ok(m, first.output());
      key = m[2];
      assert.match(first.output(), /npx openfactor apps create --name NAME/);
      const r = await details(first.url, key);
      assert.equal((await r.json()).app.name, 'Default');
      // The key is printed to the terminal, never in a JSON log line.
      for (const line of first.output().split('\n').filter((l) => l.startsWith('{'))) assert.equal(line.includes(key), false);
    } finally {
      await first.stop();
    }
    const keyFile = join(db.dataDir, 'master.key');
    assert.ok(existsSync(keyFile));
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    if (dialect === 'sqlite') assert.ok(existsSync(join(db.dataDir, 'openfactor.db')) || db.url.includes(db.dataDir));

    const second = await spawnServer(env);
    try {
      assert.doesNotMatch(second.output(), /shown only now/);
      assert.equal((await details(second.url, key)).status, 200, 'same key file, same key');
    } finally {
      await second.stop();
    }
  } finally {
    await db.drop();
  }
});

test('apps callback, apps dashboard-keys and the OneTouch settings', async () => {
  const db = await createTestDatabase();
  const env = testEnv(db);
  try {
    const app = JSON.parse(runCli(['apps', 'create', '--name', 'Hooks Bank', '--json'], env).stdout);
    const id = String(app.id);
    assert.equal(runCli(['apps', 'callback', '--app', id], env).stdout.trim(), 'No OneTouch callback.');
    const set = runCli(['apps', 'callback', '--app', id, '--url', 'https://bank.example/authy', '--json'], env);
    assert.deepEqual(JSON.parse(set.stdout), { id: app.id, url: 'https://bank.example/authy', method: 'POST' });
    assert.equal(runCli(['apps', 'callback', '--app', id, '--method', 'get'], env).stdout.trim(), 'GET https://bank.example/authy');
    assert.equal(runCli(['apps', 'callback', '--app', id, '--url', 'ftp://bank.example'], env).status, 2);
    assert.equal(runCli(['apps', 'callback', '--app', id, '--url', ''], env).stdout.trim(), 'No OneTouch callback.');

    const keys = runCli(['apps', 'dashboard-keys', '--app', id, '--json'], env);
    const k = JSON.parse(keys.stdout);
    assert.match(k.access_key, /^[\w-]{32}$/);
    assert.match(k.signing_key, /^[\w-]{32}$/);
    const again = JSON.parse(runCli(['apps', 'dashboard-keys', '--app', id, '--json'], env).stdout);
    assert.notEqual(again.access_key, k.access_key, 'each call makes new keys');
    assert.equal(runCli(['apps', 'dashboard-keys', '--app', '999999'], env).status, 1);

    const s = JSON.parse(runCli(['apps', 'settings', '--app', id, '--sync-tokens', 'off', '--number-matching', 'on', '--json'], env).stdout);
    assert.equal(s.syncTokens, false);
    assert.equal(s.numberMatching, true);
    const geo = JSON.parse(runCli(['apps', 'settings', '--app', id, '--countries', 'pt,br', '--daily-send-budget', '500', '--json'], env).stdout);
    assert.equal(geo.allowedCountries, 'PT,BR');
    assert.equal(geo.dailySendBudget, 500);
    assert.equal(runCli(['apps', 'settings', '--app', id, '--countries', 'XX'], env).status, 2);
    assert.equal(JSON.parse(runCli(['apps', 'settings', '--app', id, '--countries', '', '--json'], env).stdout).allowedCountries, 'all');
  } finally {
    await db.drop();
  }
});
