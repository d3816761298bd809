// The CLI's OneTouch callback, dashboard keys and application settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, testEnv } from '../support/harness.ts';
import { runCli } from '../support/process.ts';

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

    // Authy's "Not checked" answer for users who never verified: a word, not on/off.
    assert.equal(JSON.parse(runCli(['apps', 'settings', '--app', id, '--json'], env).stdout).unregisteredVerifyLegacy, false, 'off by default');
    assert.equal(JSON.parse(runCli(['apps', 'settings', '--app', id, '--unregistered-verify', 'legacy', '--json'], env).stdout).unregisteredVerifyLegacy, true);
    assert.equal(JSON.parse(runCli(['apps', 'settings', '--app', id, '--unregistered-verify', 'check', '--json'], env).stdout).unregisteredVerifyLegacy, false);
    const bad = runCli(['apps', 'settings', '--app', id, '--unregistered-verify', 'on'], env);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /legacy or check/);
  } finally {
    await db.drop();
  }
});
