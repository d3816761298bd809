// The CLI's applications and keys, with and without a running server (each CLI call is its own process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, testEnv } from '../support/harness.ts';
import { runCli, spawnServer } from '../support/process.ts';
import { appDetails as details } from '../support/http.ts';

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
