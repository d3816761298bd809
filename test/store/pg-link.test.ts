// PostgreSQL over a link that silently stops answering (a TCP proxy of the test's own, switched to
// a black hole): requests get a quick Authy-style 503 instead of hanging, the applications cache
// stops serving once its change listener has not heard its own heartbeat for a bound (so a key
// rotated meanwhile on another node is not accepted), and everything works again when the link
// is back. Also: a PostgreSQL connection the server drops is logged.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createTestDatabase, dialect, testEnv, type TestDatabase } from '../support/harness.ts';
import { startTcpProxy, type TcpProxy } from '../support/proxy.ts';
import { until } from '../support/wait.ts';
import { loadConfig } from '../../src/config.ts';
import { migrate, openStore, type Store, type StoreLog } from '../../src/store/db.ts';
import { buildServer, type OpenFactor } from '../../src/app.ts';
import { Applications } from '../../src/features/applications/service.ts';

const skip = dialect !== 'postgres' && 'PostgreSQL only: SQLite has no link to lose';

/** Small bounds, so that the test takes seconds; the defaults are 5 s, 5 s, 1 s and 5 s. */
const TIMEOUTS = {
  OPENFACTOR_PG_CONNECT_TIMEOUT_MS: '1000',
  OPENFACTOR_PG_QUERY_TIMEOUT_MS: '1000',
  OPENFACTOR_PG_LISTENER_HEARTBEAT_MS: '200',
  OPENFACTOR_PG_LISTENER_STALE_MS: '1000',
};
/** The longest a black-holed request is allowed here: well under the time a hang would last. */
const ANSWER_WITHIN_MS = 15_000;

let db: TestDatabase;
let proxy: TcpProxy;
let store: Store;
let of: OpenFactor;
let direct: Store;
let appId: number;
let apiKey: string;
let masterKeys: ReturnType<typeof loadConfig>['masterKeys'];

before(async () => {
  if (skip) return;
  db = await createTestDatabase();
  const target = new URL(db.url);
  proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
  const config = loadConfig({ ...testEnv(db), ...TIMEOUTS, DATABASE_URL: proxy.urlFor(db.url), OPENFACTOR_OUTBOX_WORKER: 'off' });
  masterKeys = config.masterKeys;
  store = openStore(config.databaseUrl, { pg: config.pg });
  await migrate(store);
  of = await buildServer(config, store);
  ({ id: appId, apiKey } = await of.services.applications.create('Link Bank'));
  direct = openStore(db.url);
});

after(async () => {
  if (skip) return;
  proxy?.restore();
  await of?.close();
  await store?.close();
  await direct?.close();
  await proxy?.close();
  await db?.drop();
});

const call = (path: string, key = apiKey) => of.server.inject({ method: 'GET', url: `/protected/json/${path}`, headers: { 'x-authy-api-key': key } });

/** The request's answer, or a failure once it has taken longer than a hang-free answer could. */
async function answered(path: string, key?: string) {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${path}: no answer within ${ANSWER_WITHIN_MS} ms while the link was black-holed`)), ANSWER_WITHIN_MS);
  });
  try {
    return await Promise.race([call(path, key), hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** The application cache holds the key and its listener is live (the first call starts it). */
async function warm(key = apiKey) {
  await until('change listener live', () => store.applicationsVersion() !== undefined, 10_000);
  assert.equal((await call('app/details', key)).statusCode, 200);
}

test('a database that stops answering: an Authy-style 503 (not a hang, not a 500), then service again', { skip }, async () => {
  await warm();
  proxy.blackHole();
  try {
    const res = await answered('app/stats');
    assert.equal(res.statusCode, 503, res.body);
    const body = res.json();
    assert.equal(body.success, false);
    assert.equal(body.error_code, '60000');
    assert.match(body.message, /database did not answer/);
    assert.doesNotMatch(res.body, /at .*\.ts:\d+/, 'no stack trace');
    // A second request, on a pool whose connections all hung, answers too.
    assert.equal((await answered('app/stats')).statusCode, 503);
  } finally {
    proxy.restore();
  }
  const back = await until('requests succeed again', async () => {
    const r = await call('app/stats');
    return r.statusCode === 200 && r;
  }, 20_000);
  assert.equal(back.json().success, true);
});

test('a key rotated on another node while this one is cut off is not accepted past the staleness bound', { skip }, async () => {
  await warm();
  proxy.blackHole();
  let newKey: string;
  try {
    // Another node (a direct connection, not through the cut link) rotates the key.
    newKey = (await new Applications(direct.db, masterKeys[0]).rotateKey(appId))!;
    // Past the bound (1 s without its own heartbeat), the listener is taken for dead and the
    // cache serves nothing: the old key is checked against the database, which cannot answer.
    const res = await until('the rotated key refused', async () => {
      const r = await answered('app/details');
      assert.ok(r.statusCode === 200 || r.statusCode === 503, `${r.statusCode} ${r.body}`);
      return r.statusCode !== 200 && r;
    }, 10_000);
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.json().error_code, '60000');
  } finally {
    proxy.restore();
  }
  await until('the new key works', async () => (await call('app/details', newKey)).statusCode === 200, 20_000);
  assert.equal((await call('app/details')).statusCode, 401, 'the old key is refused once the link is back');
});

test('a PostgreSQL connection dropped under the pool is logged (message, no password)', { skip }, async () => {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const log: StoreLog = {
    warn: (obj, msg) => lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
  };
  const url = new URL(db.url);
  url.password = 'sw0rdfish'; // trust auth ignores it; it must not reach the log
  const own = openStore(url.toString(), { log });
  try {
    await own.db.selectFrom('meta').select('key').execute(); // one idle connection in the pool
    const killer = new pg.Client({ connectionString: db.url });
    await killer.connect();
    try {
      await killer.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
      );
    } finally {
      await killer.end();
    }
    const line = await until('pool error logged', () => lines.find((l) => l.obj.event === 'pg_pool_error'), 10_000);
    assert.equal(line.level, 'warn');
    assert.match(String(line.obj.err), /terminat/i);
    assert.ok(!JSON.stringify(lines).includes('sw0rdfish'), 'no password in the log');
    // And the pool goes on with a fresh connection.
    assert.ok(Array.isArray(await own.db.selectFrom('meta').select('key').execute()));
  } finally {
    await own.close();
  }
});
