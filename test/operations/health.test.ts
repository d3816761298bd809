// /healthz says the process is up; /readyz says it can serve: the database answers and has every
// migration this build needs. A load balancer or supervisor reads them; they never need a key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, dialect, startApp, testEnv } from '../support/harness.ts';
import { startTcpProxy } from '../support/proxy.ts';
import { loadConfig } from '../../src/config.ts';
import { migrate, openStore } from '../../src/store/db.ts';
import { buildServer } from '../../src/app.ts';
import { LATEST_MIGRATION } from '../../src/store/migrations.ts';
import { until } from '../support/wait.ts';

test('healthz and readyz answer without a key; readyz follows the migrations', async () => {
  const t = await startApp();
  try {
    const get = async (url: string) => {
      const r = await t.of.server.inject({ method: 'GET', url });
      return { status: r.statusCode, body: r.json() };
    };
    assert.deepEqual(await get('/healthz'), { status: 200, body: { status: 'ok' } });
    assert.deepEqual(await get('/readyz'), { status: 200, body: { status: 'ok', database: dialect } });

    // A database restored from before this build's newest migration: not ready, and why.
    const newest = await t.store.db.selectFrom('kysely_migration' as never).selectAll().where('name' as never, '=', LATEST_MIGRATION as never).executeTakeFirstOrThrow();
    await t.store.db.deleteFrom('kysely_migration' as never).where('name' as never, '=', LATEST_MIGRATION as never).execute();
    const behind = await get('/readyz');
    assert.equal(behind.status, 503);
    assert.equal(behind.body.status, 'unavailable');
    assert.match(behind.body.reason, new RegExp(`^the database is at migration \\d{4}_\\w+, this build needs ${LATEST_MIGRATION}$`));
    assert.deepEqual(await get('/healthz'), { status: 200, body: { status: 'ok' } }, 'the process itself is up');
    await t.store.db.insertInto('kysely_migration' as never).values(newest as never).execute();
    assert.equal((await get('/readyz')).status, 200);

    // A newer node migrated further (a rolling upgrade): this one can still serve.
    await t.store.db.insertInto('kysely_migration' as never).values({ name: '9999_from_a_newer_build', timestamp: new Date().toISOString() } as never).execute();
    assert.equal((await get('/readyz')).status, 200);
  } finally {
    await t.close();
  }
});

test('a database link gone silent: readyz says so within seconds, healthz stays up', { skip: dialect !== 'postgres' && 'PostgreSQL half only (SQLite has no link)' }, async () => {
  const db = await createTestDatabase();
  const target = new URL(db.url);
  const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
  const config = loadConfig({ ...testEnv(db), DATABASE_URL: proxy.urlFor(db.url), OPENFACTOR_OUTBOX_WORKER: 'off' });
  const store = openStore(config.databaseUrl, { pg: config.pg });
  try {
    await migrate(store);
    const of = await buildServer(config, store);
    try {
      const get = (url: string) => of.server.inject({ method: 'GET', url });
      assert.equal((await get('/readyz')).statusCode, 200);
      proxy.blackHole();
      const started = Date.now();
      const r = await get('/readyz');
      assert.equal(r.statusCode, 503);
      assert.equal(r.json().reason, 'the database did not answer within 2000 ms');
      assert.ok(Date.now() - started < 4000, 'answered, not hung');
      assert.equal((await get('/healthz')).statusCode, 200);
      proxy.restore();
      await until('ready again', async () => (await get('/readyz')).statusCode === 200, 15_000);
    } finally {
      proxy.restore();
      await of.close();
    }
  } finally {
    await store.close();
    await proxy.close();
    await db.drop();
  }
});
