// The first start: the "Default" application, its key printed once, the 0600 master key file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createTestDatabase, testEnv, dialect } from '../support/harness.ts';
import { spawnServer } from '../support/process.ts';
import { appDetails as details } from '../support/http.ts';
import { until } from '../support/wait.ts';

test('the first start creates "Default", prints its key once, and makes a 0600 key file', async () => {
  const db = await createTestDatabase();
  const env = testEnv(db);
  delete env.OPENFACTOR_MASTER_KEY;
  try {
    const first = await spawnServer(env);
    let key: string;
    try {
      // Made and printed once the server listens: a start that fails before never shows (and loses) a key.
      const m = await until('the Default key', () => /application "Default" \(id (\d+)\)\. Its API key, shown only now:\n\n {2}([A-Za-z0-9]{32})/.exec(first.output()) ?? undefined);
      assert.ok(first.output().indexOf('OpenFactor is ready.') < m.index, 'the key comes after the start is told (once listening)');
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
      await until('the start is told', () => second.output().includes('OpenFactor is ready.'));
      assert.doesNotMatch(second.output(), /shown only now/);
      assert.equal((await details(second.url, key)).status, 200, 'same key file, same key');
    } finally {
      await second.stop();
    }
  } finally {
    await db.drop();
  }
});
