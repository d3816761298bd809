// Kill the server (kill -9) while a batch is out at the provider, restart it, and check that no
// message is lost: each ends delivered exactly once, or (only where the provider cannot
// deduplicate and the call was in flight) marked failed, never sent a second time. A provider that
// honours idempotency keys gets the in-doubt messages again and delivers each once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, freshWindowClock, testEnv } from '../support/harness.ts';
import { spawnServer } from '../support/process.ts';
import { call, userForm } from '../support/http.ts';
import { loadConfig } from '../../src/config.ts';
import { buildServer } from '../../src/app.ts';
import { startFakeSmsc } from '../support/fakes/smsc.ts';
import { startFakeGateway } from '../support/fakes/gateway.ts';
import { migrate, openStore } from '../../src/store/db.ts';
import { until } from '../support/wait.ts';

const N = 40;

/** Accepts N SMS on a node that does not send, so the whole batch is queued when the sender starts. */
async function queueBatch(env: NodeJS.ProcessEnv): Promise<void> {
  const config = loadConfig({ ...env, OPENFACTOR_OUTBOX_WORKER: 'off' });
  const store = openStore(config.databaseUrl, { pg: config.pg });
  await migrate(store);
  const acceptor = await buildServer(config, store, { sendGuardClock: freshWindowClock() });
  try {
    const { id: appId, apiKey: key } = await acceptor.services.applications.create('Crash Bank');
    // One user gets the whole batch: the per-user, per-number and per-prefix send limits make room.
    await acceptor.services.applications.updateSettings(appId, { sendsPerHour: 1000, sendsPerNumberHour: 1000, sendsPerNumberDay: 1000, prefixSendsPerWindow: 1000 });
    const user = await call(acceptor.server, 'POST', '/protected/json/users/new', { key, form: userForm('crash@example.com', '4155550175') });
    for (let i = 0; i < N; i++) assert.equal((await call(acceptor.server, 'GET', `/protected/json/sms/${user.json.user.id}?force=true`, { key })).status, 200);
  } finally {
    await acceptor.close();
    await store.close();
  }
}

async function outboxRows(url: string) {
  const store = openStore(url);
  try {
    return await store.db.selectFrom('outbox').select(['sid', 'status', 'provider_message_id', 'provider_result']).orderBy('id').execute();
  } finally {
    await store.close();
  }
}

async function crashMidBatch(env: NodeJS.ProcessEnv, sentSoFar: () => number) {
  const first = await spawnServer(env);
  await until('part of the batch out', () => sentSoFar() >= 10, 20_000);
  await first.kill9();
  const second = await spawnServer(env);
  await until('every message settled', async () => (await outboxRows(env.DATABASE_URL!)).every((r) => ['sent', 'delivered', 'failed'].includes(r.status)), 20_000);
  await second.stop();
}

test('SMPP (no idempotency): delivered once or marked failed in doubt; nothing lost, nothing sent twice', async (t) => {
  const db = await createTestDatabase();
  const smsc = await startFakeSmsc();
  smsc.delayMs = 60; // several messages in flight when the process dies
  const env = { ...testEnv(db), OPENFACTOR_SMS_PROVIDERS: smsc.url, OPENFACTOR_OUTBOX_LEASE_MS: '1500', OPENFACTOR_OUTBOX_CONCURRENCY: '8' };
  try {
    await queueBatch(env);
    await crashMidBatch(env, () => smsc.submits.length);
    const rows = await outboxRows(db.url);
    assert.equal(rows.length, N);
    const ok = rows.filter((r) => r.status === 'sent' || r.status === 'delivered');
    const failed = rows.filter((r) => r.status === 'failed');
    assert.equal(ok.length + failed.length, N, 'every message settled');
    assert.ok(ok.length >= N - 8, `${ok.length} delivered; at most the in-flight window (8) may be in doubt`);
    for (const f of failed) assert.match(f.provider_result ?? '', /in doubt/);
    // Each submit reached the SMSC once: no text (each has its own code) arrived twice …
    const texts = smsc.messages.map((m) => m.text);
    assert.equal(new Set(texts).size, texts.length, 'no message submitted twice');
    // … every message marked sent is one the SMSC has, and the SMSC has nothing we lost track of
    // beyond the in-doubt ones.
    const ids = new Set(smsc.messages.map((m) => m.messageId));
    for (const r of ok) assert.ok(ids.has(r.provider_message_id!), `${r.sid} sent as ${r.provider_message_id}`);
    assert.ok(smsc.messages.length <= ok.length + failed.length && smsc.messages.length >= ok.length);
    t.diagnostic(`${ok.length} delivered, ${failed.length} failed in doubt, ${smsc.messages.length} at the SMSC`);
  } finally {
    await smsc.close();
    await db.drop();
  }
});

test('an idempotent gateway: in-doubt messages are sent again with the same key, so each is delivered exactly once', async (t) => {
  const db = await createTestDatabase();
  const gw = await startFakeGateway();
  gw.delayMs = 60;
  const env = { ...testEnv(db), OPENFACTOR_SMS_PROVIDERS: gw.url, OPENFACTOR_OUTBOX_LEASE_MS: '1500', OPENFACTOR_OUTBOX_CONCURRENCY: '8' };
  try {
    await queueBatch(env);
    await crashMidBatch(env, () => gw.delivered.length);
    const rows = await outboxRows(db.url);
    assert.ok(rows.every((r) => r.status === 'sent'), JSON.stringify(rows.map((r) => r.status)));
    assert.equal(gw.delivered.length, N, 'each message delivered once');
    assert.deepEqual(new Set(gw.delivered.map((m) => m.key)), new Set(rows.map((r) => r.sid)), 'keyed by our message id');
    assert.ok(gw.requests >= N, `${gw.requests} requests for ${N} messages (in-doubt ones repeated, deduplicated by key)`);
    assert.equal(gw.badSignatures, 0);
    t.diagnostic(`${gw.delivered.length} delivered from ${gw.requests} requests`);
  } finally {
    await gw.close();
    await db.drop();
  }
});
