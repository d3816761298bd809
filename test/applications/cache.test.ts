// Applications are cached per process (every request authenticates), yet a change made by anyone
// (the CLI, another node, psql, this server) is what the next request sees: SQLite counts writes
// with triggers and the count is read per request; PostgreSQL tells listeners (LISTEN/NOTIFY).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startApp, dialect, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { until } from '../support/wait.ts';
import { openStore, type Store } from '../../src/store/db.ts';
import { hashApiKey } from '../../src/core/crypto.ts';
import { Applications } from '../../src/features/applications/service.ts';
import { createUser } from '../support/tokens.ts';

let t: TestApp;
/** Another connection to the same database, as the CLI or another node has. */
let elsewhere: Store;
before(async () => {
  t = await startApp();
  elsewhere = openStore(t.config.databaseUrl);
});
after(async () => {
  await elsewhere.close();
  await t.close();
});

const details = (key: string) => call(t.of.server, 'GET', '/protected/json/app/details', { key });
/** SQLite: at once. PostgreSQL: when the notification arrives, a moment after the commit. */
const seen = <T>(what: string, f: () => Promise<T | undefined | false>) => (dialect === 'sqlite' ? f().then((v) => v || assert.fail(what)) : until(what, f, 5000));

test('a setting changed on another connection is what the next request sees', async () => {
  const id = await createUser(t, 'cache@example.com', '415-555-0171');
  assert.equal((await call(t.of.server, 'GET', `/protected/json/sms/${id}?force=true`, { key: t.apiKey })).status, 200, 'cached while enabled');
  await elsewhere.db.updateTable('applications').set({ sms_enabled: 0 }).where('id', '=', t.appId).execute();
  await seen('sms disabled', async () => {
    const r = await call(t.of.server, 'GET', `/protected/json/sms/${id}?force=true`, { key: t.apiKey });
    return r.status !== 200 && r;
  });
  await elsewhere.db.updateTable('applications').set({ sms_enabled: 1 }).where('id', '=', t.appId).execute();
  await seen('sms enabled again', async () => (await call(t.of.server, 'GET', `/protected/json/sms/${id}?force=true`, { key: t.apiKey })).status === 200);
});

test('a key replaced on another connection stops working; a renamed application shows its new name', async () => {
  const app = await t.newApplication('Before');
  assert.equal((await details(app.apiKey)).json.app.name, 'Before');
  await elsewhere.db.updateTable('applications').set({ name: 'After' }).where('id', '=', app.id).execute();
  await seen('renamed', async () => (await details(app.apiKey)).json.app.name === 'After');
  await elsewhere.db.updateTable('applications').set({ api_key_hash: hashApiKey('x'.repeat(32)) }).where('id', '=', app.id).execute();
  await seen('old key refused', async () => (await details(app.apiKey)).status === 401);
  assert.equal((await details('x'.repeat(32))).status, 200);
});

test('a write on the server\'s own connection is seen too', async () => {
  const app = await t.newApplication('Own');
  assert.equal((await details(app.apiKey)).status, 200);
  await t.store.db.updateTable('applications').set({ api_key_hash: hashApiKey('y'.repeat(32)) }).where('id', '=', app.id).execute();
  await seen('old key refused', async () => (await details(app.apiKey)).status === 401);
});

test('PostgreSQL: a lost listener connection is replaced, and nothing stays stale', { skip: dialect !== 'postgres' && 'PostgreSQL only' }, async () => {
  const app = await t.newApplication('Listener');
  assert.equal((await details(app.apiKey)).status, 200);
  const admin = new pg.Client({ connectionString: t.config.databaseUrl });
  await admin.connect();
  try {
    const killed = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'openfactor change listener'`);
    assert.ok(killed.rowCount! >= 1, 'the listener was there');
    await admin.query('UPDATE applications SET name = $1 WHERE id = $2', ['Changed unheard', app.id]);
    await until('the change is seen', async () => (await details(app.apiKey)).json.app.name === 'Changed unheard', 5000);
    await until('listening again', async () => (await admin.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'openfactor change listener'`)).rowCount === 1, 5000);
    await admin.query('UPDATE applications SET name = $1 WHERE id = $2', ['Heard', app.id]);
    await until('the next change is heard', async () => (await details(app.apiKey)).json.app.name === 'Heard', 5000);
  } finally {
    await admin.end();
  }
});

test('a change made through this server (the admin API) is seen by its very next request, before any notification', async () => {
  // A version that never moves: a notification that has not arrived yet, as on PostgreSQL in the
  // milliseconds after a commit. The service's own writes must not wait for it.
  const apps = new Applications(t.store.db, t.config.masterKeys[0], [], () => 1);
  const { id, apiKey } = await apps.create('Own writes');
  assert.equal((await apps.authenticate(apiKey))!.settings.tokenLength, 7); // cached now
  await apps.updateSettings(id, { tokenLength: 8 });
  assert.equal((await apps.authenticate(apiKey))!.settings.tokenLength, 8);
  await apps.setAllowedCountries(id, ['PT']);
  assert.deepEqual((await apps.authenticate(apiKey))!.allowedCountries, ['PT']);
  await apps.setCallback(id, 'https://8.8.8.8/cb', 'POST', { check: async () => undefined });
  assert.equal((await apps.authenticate(apiKey))!.onetouchCallback?.url, 'https://8.8.8.8/cb');
  const newKey = await apps.rotateKey(id);
  assert.equal(await apps.authenticate(apiKey), undefined, 'the old key stops at once');
  assert.equal((await apps.authenticate(newKey!))!.id, id);
});
