// SQLite's page cache and its prewarm (store/sqlite-cache.ts): sized by OPENFACTOR_SQLITE_CACHE_MB,
// filled with every table and index before the server listens when OPENFACTOR_SQLITE_PREWARM is on.
// How much it saves is the bench's to say (README, "10 million users"); here, what it does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { createTestDatabase, dialect, testEnv, PHONES } from '../support/harness.ts';
import { createUserOver, spawnServer } from '../support/process.ts';
import { until } from '../support/wait.ts';
import { loadConfig } from '../../src/config.ts';
import { migrate, openStore } from '../../src/store/db.ts';

const env = { OPENFACTOR_DATA_DIR: '/nonexistent', OPENFACTOR_MASTER_KEY: 'a'.repeat(64), OPENFACTOR_ADMIN_TOKEN: 'x'.repeat(32), DATABASE_URL: 'sqlite::memory:' };

test('the cache is 64 MiB unless OPENFACTOR_SQLITE_CACHE_MB says; prewarm is off unless asked; bad values stop the start', () => {
  assert.equal(loadConfig(env).sqliteCacheMiB, 64);
  assert.equal(loadConfig({ ...env, OPENFACTOR_SQLITE_CACHE_MB: '6144' }).sqliteCacheMiB, 6144);
  for (const bad of ['lots', '1', '1.5', '-64']) {
    assert.throws(() => loadConfig({ ...env, OPENFACTOR_SQLITE_CACHE_MB: bad }), new RegExp(`OPENFACTOR_SQLITE_CACHE_MB must be an integer from 2 to 1048576, not ${bad}`));
  }
  assert.equal(loadConfig(env).sqlitePrewarm, false);
  for (const on of ['1', 'true', 'ON']) assert.equal(loadConfig({ ...env, OPENFACTOR_SQLITE_PREWARM: on }).sqlitePrewarm, true, on);
  for (const off of ['0', 'false', 'off', '']) assert.equal(loadConfig({ ...env, OPENFACTOR_SQLITE_PREWARM: off }).sqlitePrewarm, false, off);
  assert.throws(() => loadConfig({ ...env, OPENFACTOR_SQLITE_PREWARM: 'yes please' }), /OPENFACTOR_SQLITE_PREWARM must be 1 or 0 \(true or false\), not yes please/);
});

test('a prewarmed start reads every table and index before it listens, then serves as before', { skip: dialect !== 'sqlite' && 'SQLite only' }, async () => {
  const db = await createTestDatabase();
  try {
    const e = testEnv(db);
    const first = await spawnServer(e);
    let key: string;
    const ids: number[] = [];
    try {
      key = (await until('the Default key', () => /Its API key, shown only now:\n\n {2}([A-Za-z0-9]{32})/.exec(first.output()) ?? undefined))[1];
      for (const phone of PHONES.us.slice(0, 3)) ids.push(await createUserOver(first.url, key, phone));
    } finally {
      await first.stop();
    }

    const warm = await spawnServer({ ...e, OPENFACTOR_SQLITE_PREWARM: '1', OPENFACTOR_SQLITE_CACHE_MB: '256' });
    try {
      const lines = warm.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      const line = lines.find((l) => l.event === 'sqlite_prewarm');
      assert.ok(line, `a prewarm line in:\n${warm.output()}`);
      assert.equal(line.cache_mib, 256);
      assert.ok(lines.indexOf(line) < lines.findIndex((l) => /OpenFactor listening/.test(l.msg)), 'read before listening');
      const status = await fetch(`${warm.url}/protected/json/users/${ids[1]}/status`, { headers: { 'X-Authy-API-Key': key } });
      assert.equal(status.status, 200);
      assert.equal(((await status.json()) as { status: { authy_id: number } }).status.authy_id, ids[1]);
    } finally {
      await warm.stop();
    }

    // Every table, and every index but those on expressions or with a WHERE, which no plain count can walk.
    const store = openStore(db.url, { sqliteCacheMiB: 256 });
    try {
      await migrate(store);
      const { rows } = await sql<{ cache_size: number }>`PRAGMA cache_size`.execute(store.db);
      assert.equal(rows[0].cache_size, -256 * 1024, 'the requests’ connection has the cache asked for');
      const tables = (await sql<{ name: string }>`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`.execute(store.db)).rows.map((r) => r.name);
      let walkable = tables.length;
      for (const t of tables) {
        const indexes = (await sql<{ name: string; partial: number }>`SELECT name, partial FROM pragma_index_list(${t})`.execute(store.db)).rows;
        for (const i of indexes) {
          const columns = (await sql<{ name: string | null }>`SELECT name FROM pragma_index_info(${i.name})`.execute(store.db)).rows;
          if (i.partial === 0 && columns[0]?.name != null) walkable++;
        }
      }
      const warmed = store.prewarm!();
      assert.equal(warmed.btrees, walkable);
      // The users table and its unique phone index at least: three users each.
      assert.ok(warmed.entries >= 2 * ids.length, `entries ${warmed.entries}`);
    } finally {
      await store.close();
    }
  } finally {
    await db.drop();
  }
});

test('on PostgreSQL the prewarm says it is for SQLite, and the server starts', { skip: dialect !== 'postgres' && 'PostgreSQL only' }, async () => {
  const db = await createTestDatabase();
  try {
    const server = await spawnServer({ ...testEnv(db), OPENFACTOR_SQLITE_PREWARM: '1' });
    try {
      assert.match(server.output(), /OPENFACTOR_SQLITE_PREWARM is for SQLite; PostgreSQL keeps its own buffers/);
    } finally {
      await server.stop();
    }
  } finally {
    await db.drop();
  }
});
