// The month's `sms` count (app stats) must equal the messages sent, even when the sending process
// is killed (kill -9) between the provider accepting a message and our record of it. That moment
// is held open here by renaming the usage table away: the provider has taken every message, our
// record of them cannot be completed, and the process is killed there. After a restart (table
// back), each message is marked sent and counted exactly once, and none is sent twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { createTestDatabase, freshWindowClock, testEnv } from '../support/harness.ts';
import { spawnServer, type ServerProcess } from '../support/process.ts';
import { startFakeGateway } from '../support/fakes/gateway.ts';
import { call, userForm } from '../support/http.ts';
import { loadConfig } from '../../src/config.ts';
import { migrate, openStore } from '../../src/store/db.ts';
import { buildServer, type OpenFactor } from '../../src/app.ts';
import { until } from '../support/wait.ts';

const N = 10;

test('sms count exact after kill -9 between the provider accepting and our record of it', async () => {
  const db = await createTestDatabase();
  const gw = await startFakeGateway();
  const env = { ...testEnv(db), OPENFACTOR_SMS_PROVIDERS: gw.url, OPENFACTOR_OUTBOX_LEASE_MS: '1000' };
  const store = openStore(db.url);
  let inProcess: OpenFactor | undefined;
  let sender: ServerProcess | undefined;
  try {
    await migrate(store);
    // Queued in this process by a node that does not send.
    inProcess = await buildServer(loadConfig({ ...env, OPENFACTOR_OUTBOX_WORKER: 'off' }), store, { sendGuardClock: freshWindowClock() });
    const { id: appId, apiKey: key } = await inProcess.services.applications.create('Count Bank');
    await inProcess.services.applications.updateSettings(appId, { sendsPerHour: 1000, sendsPerNumberHour: 1000, sendsPerNumberDay: 1000, prefixSendsPerWindow: 1000 });
    const user = await call(inProcess.server, 'POST', '/protected/json/users/new', { key, form: userForm('count@example.com', '4155550176') });
    for (let i = 0; i < N; i++) assert.equal((await call(inProcess.server, 'GET', `/protected/json/sms/${user.json.user.id}?force=true`, { key })).status, 200);
    await inProcess.close();
    inProcess = undefined;

    // The sender, a process of its own, is killed while it cannot record what the provider took.
    await sql`ALTER TABLE usage_monthly RENAME TO usage_monthly_away`.execute(store.db);
    sender = await spawnServer(env);
    await until('the provider took every message', () => gw.delivered.length === N, 20_000);
    const failures = () => sender!.output().split('delivery failed unexpectedly').length - 1;
    await until('the sender tried to record each one and could not', () => failures() >= N, 20_000);
    await sender.kill9();
    await sql`ALTER TABLE usage_monthly_away RENAME TO usage_monthly`.execute(store.db);

    // A node that sends, started after the crash, settles them.
    inProcess = await buildServer(loadConfig(env), store);
    await until('every message marked sent', async () => {
      const rows = await store.db.selectFrom('outbox').select('status').where('app_id', '=', appId).execute();
      return rows.length === N && rows.every((r) => r.status === 'sent');
    }, 20_000);
    // What a customer sees: the month's stats.
    const stats = await call(inProcess.server, 'GET', '/protected/json/app/stats', { key });
    assert.equal(stats.json.stats.at(-1).sms_count, N, `${N} messages sent`);
    assert.equal(gw.delivered.length, N, 'none sent twice');
  } finally {
    await sender?.stop();
    await inProcess?.close();
    await store.close();
    await gw.close();
    await db.drop();
  }
});
