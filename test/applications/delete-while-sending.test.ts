// Deleting an application while its messages are being sent. The deletion locks rows of many
// tables in turn while two sender processes record their provider calls on the same rows; on
// PostgreSQL the two could deadlock, and the deletion answered a 500 or a sender's record of a
// message Twilio had taken was lost (Twilio is not asked twice: the message was marked failed).
// Here every deletion answers 200 and leaves no row behind, and the application that stays has
// each of its messages sent, once. And when PostgreSQL does end the deletion to break a deadlock
// (with a request of the application that locks in another order), it runs again: still a 200.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createTestDatabase, dialect, startApp, testEnv } from '../support/harness.ts';
import { spawnServers, type ServerProcess } from '../support/process.ts';
import { startFakeTwilio } from '../support/fakes/twilio.ts';
import { call, userForm } from '../support/http.ts';
import { until } from '../support/wait.ts';
import { loadConfig } from '../../src/config.ts';
import { migrate, openStore } from '../../src/store/db.ts';
import { buildServer, type OpenFactor } from '../../src/app.ts';

const ROUNDS = 12;
const DOOMED_MESSAGES = 250;
const KEPT_MESSAGES = 40;

test('an application deleted while two processes send its messages: 200 each time, nothing left, the other application’s messages each sent once', async () => {
  const db = await createTestDatabase();
  const twilio = await startFakeTwilio();
  const env = { ...testEnv(db), OPENFACTOR_SMS_PROVIDERS: twilio.url };
  const store = openStore(db.url);
  let admin: OpenFactor | undefined;
  let senders: ServerProcess[] = [];
  try {
    await migrate(store);
    // The operator's node queues and deletes; it sends nothing itself.
    const config = loadConfig({ ...env, OPENFACTOR_OUTBOX_WORKER: 'off' });
    admin = await buildServer(config, store);
    const { applications, outbox } = admin.services;
    senders = await spawnServers(2, env);
    const kept = await applications.create('Kept');
    const keptTexts: string[] = [];
    const doomedIds: number[] = [];
    const sentFor = (prefix: string) => twilio.requests.filter((r) => r.form.get('Body')!.startsWith(prefix)).length;

    for (let round = 0; round < ROUNDS; round++) {
      const doomed = await applications.create(`Doomed ${round}`);
      doomedIds.push(doomed.id);
      await store.db.transaction().execute(async (trx) => {
        for (let i = 0; i < DOOMED_MESSAGES; i++) {
          await outbox.enqueue(trx, { appId: doomed.id, userId: null, channel: 'sms', destination: `+1415555${String(i).padStart(4, '0')}`, text: `doomed ${round}.${i}`, locale: 'en' });
          if (i % (DOOMED_MESSAGES / KEPT_MESSAGES) === 0 && keptTexts.length < (round + 1) * KEPT_MESSAGES) {
            const text = `kept ${round}.${i}`;
            keptTexts.push(text);
            await outbox.enqueue(trx, { appId: kept.id, userId: null, channel: 'sms', destination: `+1212555${String(i).padStart(4, '0')}`, text, locale: 'en' });
          }
        }
      });
      // Deleted once the senders are well into its messages (a few dozen taken by the provider).
      await until(`round ${round}: sending under way`, () => sentFor(`doomed ${round}.`) >= 30, 20_000);
      const r = await call(admin.server, 'DELETE', `/admin/applications/${doomed.id}?confirm=${encodeURIComponent(`Doomed ${round}`)}`, {
        headers: { authorization: `Bearer ${config.adminToken}` },
      });
      assert.equal(r.status, 200, `round ${round}: ${r.text}`);
    }

    // The application that stays: every message sent, each exactly once.
    const keptRows = () => store.db.selectFrom('outbox').select(['status', 'provider_result']).where('app_id', '=', kept.id).execute();
    await until('every message of the kept application settled', async () => (await keptRows()).every((m) => m.status !== 'queued' && m.status !== 'sending'), 30_000);
    const rows = await keptRows();
    assert.equal(rows.length, keptTexts.length);
    assert.deepEqual(rows.filter((m) => m.status !== 'sent'), [], 'none failed or in doubt');
    for (const text of keptTexts) assert.equal(twilio.requests.filter((r) => r.form.get('Body') === text).length, 1, `${text} sent once`);

    // The deleted ones: no row left.
    for (const table of ['applications', 'outbox', 'users'] as const) {
      const column = table === 'applications' ? 'id' : 'app_id';
      assert.equal((await store.db.selectFrom(table).select(column).where(column, 'in', doomedIds).execute()).length, 0, `no ${table} row left`);
    }
    for (const s of senders) assert.doesNotMatch(s.output(), /deadlock detected|in doubt/, 'the senders met no deadlock');
  } finally {
    await Promise.all(senders.map((s) => s.stop()));
    await admin?.close();
    await store.close();
    await twilio.close();
    await db.drop();
  }
});

test('PostgreSQL: a deletion ended to break a deadlock runs again and answers 200', { skip: dialect !== 'postgres' && 'PostgreSQL only' }, async () => {
  const t = await startApp();
  // A request of the application's, as another node runs it: it holds its user's row and then
  // wants the application's message, which the deletion took first (the opposite order).
  const request = new pg.Client({ connectionString: t.db.url });
  try {
    await request.connect();
    const app = await t.newApplication('Contended');
    const user = await call(t.of.server, 'POST', '/protected/json/users/new', { key: app.apiKey, form: userForm('c@example.com', '4155550142') });
    assert.equal(user.status, 200);
    await t.of.services.outbox.enqueue(t.store.db, { appId: app.id, userId: user.json.user.id, channel: 'sms', destination: '+14155550142', text: 'waiting', locale: 'en' });
    const deadlocks = async () => Number((await request.query('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()')).rows[0].deadlocks);
    const before = await deadlocks();

    await request.query('BEGIN');
    // PostgreSQL ends the side whose deadlock check runs first: the deletion's, after 1 s.
    await request.query("SET LOCAL deadlock_timeout = '10s'");
    await request.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [user.json.user.id]);
    const deleting = call(t.of.server, 'DELETE', `/admin/applications/${app.id}?confirm=Contended`, { headers: { authorization: `Bearer ${t.config.adminToken}` } });
    await until('the deletion waits for the user row', async () => (await request.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).rowCount! > 0);
    await request.query('SELECT id FROM outbox WHERE app_id = $1 FOR UPDATE', [app.id]);
    await request.query('COMMIT');

    const r = await deleting;
    assert.equal(r.status, 200, r.text);
    assert.equal(await deadlocks(), before + 1, 'PostgreSQL did end one side');
    assert.equal((await t.store.db.selectFrom('applications').select('id').where('id', '=', app.id).execute()).length, 0);
    assert.equal((await t.store.db.selectFrom('outbox').select('id').where('app_id', '=', app.id).execute()).length, 0);
  } finally {
    await request.end().catch(() => {});
    await t.close();
  }
});
