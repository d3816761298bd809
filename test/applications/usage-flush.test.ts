// Usage counts (api_calls_count, auths_count) are kept in memory and written about once a second.
// A write the database refuses (here: the table briefly renamed away) must not lose them: the
// failure is logged and the counts go into the next write. At shutdown, a last write that fails
// twice gives the counts up with a log line instead of leaving the shutdown half done.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { openStore, type Store } from '../../src/store/db.ts';

let t: TestApp;
let direct: Store;
before(async () => {
  t = await startApp();
  direct = openStore(t.db.url);
});
after(async () => {
  await direct.close();
  await t.close();
});

test('a usage flush that fails keeps its counts for the next one, and is logged', async () => {
  const app = await t.newApplication('Counted App');
  const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
  const log = t.of.server.log as unknown as { warn: (...a: unknown[]) => void };
  const warn = log.warn;
  log.warn = function (this: unknown, ...args: unknown[]) {
    if (args[0] && typeof args[0] === 'object') warnings.push({ obj: args[0] as Record<string, unknown>, msg: String(args[1]) });
    return warn.apply(this, args);
  };
  const details = () => call(t.of.server, 'GET', '/protected/json/app/details', { key: app.apiKey });
  try {
    await sql`ALTER TABLE usage_monthly RENAME TO usage_monthly_away`.execute(direct.db);
    try {
      for (let i = 0; i < 5; i++) assert.equal((await details()).status, 200);
      await assert.rejects(t.of.services.usage.flush(), 'the write fails while the table is away');
      for (let i = 0; i < 3; i++) assert.equal((await details()).status, 200);
      await assert.rejects(t.of.services.usage.flush());
    } finally {
      await sql`ALTER TABLE usage_monthly_away RENAME TO usage_monthly`.execute(direct.db);
    }
    const failed = warnings.filter((w) => w.obj.event === 'usage_flush_failed');
    assert.equal(failed.length, 1, 'logged once per run of failures, not every second');
    assert.match(String(failed[0].obj.err), /usage_monthly/);
    const r = await call(t.of.server, 'GET', '/protected/json/app/stats', { key: app.apiKey });
    assert.equal(r.status, 200);
    // 5 + 3 calls while the table was away, and this one.
    assert.equal(r.json.stats.at(-1).api_calls_count, 9);
  } finally {
    log.warn = warn;
  }
});

test('a shutdown whose last usage write fails completes, and says how many counts were lost', async () => {
  const other = await startApp();
  try {
    const app = await other.newApplication('Shut Down App');
    const warnings: Record<string, unknown>[] = [];
    const log = other.of.server.log as unknown as { warn: (...a: unknown[]) => void };
    const warn = log.warn;
    log.warn = function (this: unknown, ...args: unknown[]) {
      if (args[0] && typeof args[0] === 'object') warnings.push(args[0] as Record<string, unknown>);
      return warn.apply(this, args);
    };
    await other.of.services.usage.flush();
    for (let i = 0; i < 4; i++) assert.equal((await call(other.of.server, 'GET', '/protected/json/app/details', { key: app.apiKey })).status, 200);
    await sql`ALTER TABLE usage_monthly RENAME TO usage_monthly_away`.execute(other.store.db);
    // Resolves: the rest of the shutdown ran (before, it threw here and left timers running).
    await other.of.close();
    const lost = warnings.filter((w) => w.event === 'usage_lost');
    assert.equal(lost.length, 1);
    assert.equal(lost[0].lost, 4);
    assert.match(String(lost[0].err), /usage_monthly/);
  } finally {
    await other.store.close();
    await other.db.drop();
  }
});
