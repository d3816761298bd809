// Several nodes on one database with Redis: a device streaming from node B hears at once of a
// request created on node A, answers through B, and A's status poll sees the answer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { PHONES, startApp, type TestApp } from '../support/harness.ts';
import { createUser } from '../support/tokens.ts';
import { approvalStatus, createApproval, registerDevice } from '../support/onetouch.ts';
import { until } from '../support/wait.ts';
import { openStore, type Store } from '../../src/store/db.ts';
import { buildServer, type OpenFactor } from '../../src/app.ts';
import { skipOutsideCI } from '../support/ci.mjs';
import type { DeviceApproval } from '../../sdk/device/src/index.ts';

const REDIS_URL = process.env.OPENFACTOR_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function redisReachable(): Promise<boolean> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

const reachable = await redisReachable();
// In CI Redis must answer (.ci/run starts it); elsewhere the test is skipped without it.
const skip = skipOutsideCI(!reachable && 'Redis is not reachable');

let a: TestApp;
let bStore: Store;
let b: OpenFactor;
let bUrl: string;
before(async () => {
  if (skip) return;
  assert.ok(reachable, `Redis at ${REDIS_URL} must answer in CI`);
  a = await startApp({ REDIS_URL, OPENFACTOR_REDIS_PREFIX: `of-test-${randomBytes(4).toString('hex')}` });
  await a.listen();
  bStore = openStore(a.config.databaseUrl);
  b = await buildServer(a.config, bStore);
  bUrl = await b.server.listen({ port: 0, host: '127.0.0.1' });
});
after(async () => {
  if (skip) return;
  await b.close();
  await bStore.close();
  await a.close();
});

test('a request made on node A reaches a device streaming from node B within a second', { skip }, async () => {
  const id = await createUser(a, 'nodes@example.com', PHONES.us[0]);
  const device = await registerDevice(a, bUrl, id);
  const heard: DeviceApproval[] = [];
  const stop = new AbortController();
  const listening = device.listen((x) => heard.push(x), { signal: stop.signal });
  await new Promise((r) => setTimeout(r, 200));

  const t0 = Date.now();
  const r = await createApproval(a, id, { message: 'from node A' });
  const uuid = r.json.approval_request.uuid;
  const shown = await until('node B streams it', () => heard.find((x) => x.uuid === uuid), 3000);
  assert.ok(Date.now() - t0 < 1000, `heard after ${Date.now() - t0} ms`);
  await until('notified (by node B)', async () => (await approvalStatus(a, uuid)).json.approval_request.notified === true);
  await device.approve(shown);
  stop.abort();
  await listening;
  assert.equal((await approvalStatus(a, uuid)).json.approval_request.status, 'approved');
});
