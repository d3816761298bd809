// An acknowledged write survives kill -9: create users concurrently, kill the server right after
// the last acknowledgement, restart it, and find every acknowledged user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, testEnv } from './support/harness.ts';
import { runCli, spawnServer } from './support/process.ts';

test('every acknowledged user is there after kill -9 and a restart', async () => {
  const db = await createTestDatabase();
  const env = testEnv(db);
  try {
    const { api_key: key } = JSON.parse(runCli(['apps', 'create', '--name', 'Crash', '--json'], env).stdout);
    const server = await spawnServer(env);
    const TOTAL = 400;
    const KILL_AFTER = 300;
    const acked = new Map<number, string>();
    let next = 0;
    let killed: Promise<void> | undefined;

    const worker = async () => {
      while (next < TOTAL && !killed) {
        const i = next++;
        const phone = `415555${String(1000 + i).padStart(4, '0')}`;
        let res: Response;
        let body: { user: { id: number } };
        try {
          res = await fetch(`${server.url}/protected/json/users/new`, {
            method: 'POST',
            headers: { 'x-authy-api-key': key, 'content-type': 'application/x-www-form-urlencoded' },
            body: `user[email]=u${i}%40example.com&user[cellphone]=${phone}&user[country_code]=1`,
          });
          body = await res.json();
        } catch {
          return; // the server is gone (only the request may fail here: an assertion is never swallowed)
        }
        if (killed) return; // an answer that raced the kill is not counted as acknowledged
        assert.equal(res.status, 200, JSON.stringify(body));
        acked.set(body.user.id, `+1${phone}`);
        if (acked.size === KILL_AFTER) killed = server.kill9();
      }
    };
    await Promise.all(Array.from({ length: 25 }, worker));
    await killed;
    assert.equal(acked.size, KILL_AFTER, server.output());

    const again = await spawnServer(env);
    try {
      const missing: number[] = [];
      for (const [id, e164] of acked) {
        const res = await fetch(`${again.url}/protected/json/users/${id}/status`, { headers: { 'x-authy-api-key': key } });
        const body = await res.json();
        if (res.status !== 200 || body.status.phone_number !== `XXX-XXX-${e164.slice(-4)}`) missing.push(id);
      }
      assert.deepEqual(missing, [], `${missing.length} acknowledged users lost`);
    } finally {
      await again.stop();
    }
  } finally {
    await db.drop();
  }
});
