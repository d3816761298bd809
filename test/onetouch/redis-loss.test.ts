// Redis is optional and its loss is visible: with a redis-server of the test's own, killed and
// started again on the same port, a device streaming from node B still hears of requests made on
// node A during the outage (and of their answers), and a node started while Redis is down starts,
// serves, logs the outage once, and joins the others when Redis is back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, PHONES, startApp, testEnv, type TestApp } from '../support/harness.ts';
import { createUser } from '../support/tokens.ts';
import { createApproval, registerDevice } from '../support/onetouch.ts';
import { OwnRedis } from '../support/redis.ts';
import { spawnServer, type ServerProcess } from '../support/process.ts';
import { until } from '../support/wait.ts';
import { openStore, type Store } from '../../src/store/db.ts';
import { buildServer, type OpenFactor } from '../../src/app.ts';
import type { ApprovalUpdate, DeviceApproval } from '../../sdk/device/src/index.ts';

const METRICS_TOKEN = 'metrics-token-for-this-test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function redisGauge(url: string): Promise<string | undefined> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  return /^openfactor_redis_connected (\d)$/m.exec(await res.text())?.[1];
}

let redis: OwnRedis | undefined;
let a: TestApp | undefined;
let aUrl: string;
let bStore: Store | undefined;
let b: OpenFactor | undefined;
let bUrl: string;
before(async () => {
  redis = await OwnRedis.create();
  await redis.start();
  a = await startApp({ REDIS_URL: redis.url, OPENFACTOR_REDIS_PREFIX: `of-test-${randomBytes(4).toString('hex')}`, OPENFACTOR_METRICS_TOKEN: METRICS_TOKEN });
  aUrl = await a.listen();
  bStore = openStore(a.config.databaseUrl);
  b = await buildServer(a.config, bStore);
  bUrl = await b.server.listen({ port: 0, host: '127.0.0.1' });
});
after(async () => {
  await b?.close();
  await bStore?.close();
  await a?.close();
  await redis?.stop();
});

test('a device streaming from node B hears of requests made on node A, and their answers, while Redis is down', async () => {
  const t = a!;
  const id = await createUser(t, 'outage@example.com', PHONES.us[0]);
  const phone = await registerDevice(t, bUrl, id);
  const other = await registerDevice(t, aUrl, id); // a second device of the user, on node A
  const heard: DeviceApproval[] = [];
  const updates: ApprovalUpdate[] = [];
  const stop = new AbortController();
  const listening = phone.listen((x) => heard.push(x), { signal: stop.signal, onUpdate: (u) => updates.push(u) });
  try {
    // Both nodes linked through Redis: a request on A reaches the stream on B.
    await until('node B is linked', async () => (await redisGauge(bUrl)) === '1');
    const before = (await createApproval(t, id, { message: 'before the outage' })).json.approval_request.uuid;
    const shown = await until('heard before the outage', () => heard.find((x) => x.uuid === before), 10_000);

    await redis!.kill();
    await until('node B sees the outage', async () => (await redisGauge(bUrl)) === '0', 10_000);
    const during = (await createApproval(t, id, { message: 'during the outage' })).json.approval_request.uuid;
    // Answered on node A by the other device: the phone on B must be told it is over.
    await other.approve(shown);
    await until('heard during the outage (from the database)', () => heard.find((x) => x.uuid === during), 10_000);
    await until('told of the answer given on node A', () => updates.find((u) => u.uuid === before && u.status === 'approved'), 10_000);

    await redis!.start();
    await until('node B is linked again', async () => (await redisGauge(bUrl)) === '1', 15_000);
    await until('node A is linked again', async () => (await redisGauge(aUrl)) === '1', 15_000);
    const after = (await createApproval(t, id, { message: 'after the outage' })).json.approval_request.uuid;
    await until('heard after the outage', () => heard.find((x) => x.uuid === after), 10_000);
    // Each request shown once, however it came.
    assert.deepEqual(heard.map((x) => x.message), ['before the outage', 'during the outage', 'after the outage']);
  } finally {
    stop.abort();
    await listening.catch(() => {});
  }
});

test('a node started while Redis is down starts, serves, logs the outage once, and joins when Redis is back', async () => {
  const own = await OwnRedis.create(); // not started yet: nothing listens on its port
  const db = await createTestDatabase();
  let server: ServerProcess | undefined;
  try {
    server = await spawnServer({ ...testEnv(db), REDIS_URL: own.url, OPENFACTOR_METRICS_TOKEN: METRICS_TOKEN });
    const res = await fetch(`${server.url}/`);
    assert.equal(res.status, 200);
    assert.equal(await redisGauge(server.url), '0');
    // Retries go on in the background (every 50 ms, growing to every 2 s); the log says it once.
    await sleep(2500);
    const warned = () => server!.output().split('\n').filter((l) => l.includes('redis (device events) unreachable')).length;
    assert.equal(warned(), 1, server.output());

    await own.start();
    await until('joined once Redis is up', async () => (await redisGauge(server!.url)) === '1', 15_000);
    // The line reaches us through the child's stdout, which may come after the gauge's answer.
    await until('the return logged', () => /redis \(device events\) reachable again/.test(server!.output()), 5000);
    assert.equal(warned(), 1);
  } finally {
    await server?.stop();
    await own.stop();
    await db.drop();
  }
});
